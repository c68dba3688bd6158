"""Python structure features, via ``ast.parse`` only: snippets are never executed.

The signals were defined on CPython 3.11, and every later Python parses as 3.11 did here: new
syntax (PEP 695 type parameters, PEP 701 f-strings, ...) is a syntax error on all of them.
"""

from __future__ import annotations

import ast
import re
import sys
import warnings

from eduscore.scoring.features.formats import MAX_AST_NODES, MAX_PARSE_CHARS, log1p, ratio
from eduscore.scoring.features.python_fstrings import accepted_by_311
from eduscore.scoring.features.python_walk import PyWalk, docstring_text

DOC_PARAMS_RE = re.compile(
    r"(^[ \t]*(args|arguments|parameters|params|keyword args|attributes)[ \t]*:?[ \t]*$|:param\b|"
    r"^[ \t]*parameters[ \t]*\n[ \t]*-{3,}|@param\b)",
    re.IGNORECASE | re.MULTILINE,
)
DOC_RETURNS_RE = re.compile(
    r"(^[ \t]*(returns?|yields?)[ \t]*:?|:returns?:|:rtype:|@returns?\b)",
    re.IGNORECASE | re.MULTILINE,
)
DOC_EXAMPLES_RE = re.compile(
    r"(^[ \t]*(examples?|usage)[ \t]*:?[ \t]*$|>>>)", re.IGNORECASE | re.MULTILINE
)


#: Whether this Python parses f-strings that 3.11 refused (PEP 701).
_PEP_701 = sys.version_info >= (3, 12)


def parse_311(src: str) -> ast.Module:
    """`ast.parse` as CPython 3.11 parses, on any Python: raises SyntaxError where 3.11 did."""
    with warnings.catch_warnings():
        # Invalid escapes and the like warn on stderr from 3.12 on: the snippet is data, not ours.
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        tree = ast.parse(src, feature_version=(3, 11))
    if _PEP_701 and not accepted_by_311(src):
        raise SyntaxError("an f-string CPython 3.11 refuses")
    return tree


def parse_python(code: str) -> tuple[ast.Module | None, bool]:
    """Parse Python; on failure, retry on prefixes ending before a top-level line.

    Returns (tree, full) where full tells whether the whole text parsed.
    """
    src = code[:MAX_PARSE_CHARS]
    try:
        return parse_311(src), len(code) <= MAX_PARSE_CHARS
    except Exception:
        pass
    lines = src.split("\n")
    starts = [i for i, ln in enumerate(lines) if i > 0 and ln[:1] not in ("", " ", "\t", "#")]
    for i in reversed(starts[-6:]):
        try:
            tree = parse_311("\n".join(lines[:i]))
        except Exception:
            continue
        if tree.body:
            return tree, False
    return None, False


class LazyParse:
    """`parse_python(code)` on first call only (never for a NUL byte): the data formats are
    told apart before Python is tried, and a failed parse retries up to six prefixes."""

    __slots__ = ("_code", "_result")

    def __init__(self, code: str) -> None:
        self._code = code
        self._result: tuple[ast.Module | None, bool] | None = None

    def __call__(self) -> tuple[ast.Module | None, bool]:
        if self._result is None:
            code = self._code
            self._result = parse_python(code) if "\x00" not in code else (None, False)
        return self._result

    def tree(self) -> ast.Module | None:
        return self()[0]


def _is_literal(node: ast.AST | None) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_is_literal(e) for e in node.elts[:200])
    if isinstance(node, ast.Dict):
        return all(
            _is_literal(k) and _is_literal(v)
            for k, v in zip(node.keys[:200], node.values[:200], strict=False)
        )
    if isinstance(node, ast.UnaryOp):
        return _is_literal(node.operand)
    return False


_FuncDef = ast.FunctionDef | ast.AsyncFunctionDef


def _docstring_signals(tree: ast.Module, c: PyWalk, n_lines: int, feats: dict[str, float]) -> None:
    """Coverage, length and content (params, returns, examples) of the docstrings."""
    defs: list[ast.AST] = [*c.funcs, *c.classes]
    docs = [docstring_text(d) for d in defs]
    documented = [d for d in docs if d and len(d.split()) >= 3]
    mod_doc = docstring_text(tree)
    all_docs = [d for d in [mod_doc, *docs] if d]
    doc_lines = sum(d.count("\n") + 1 for d in all_docs)
    doc_words = [len(d.split()) for d in all_docs]
    feats["docstring_coverage"] = (
        ratio(len(documented), len(defs)) if defs else float(bool(mod_doc))
    )
    feats["module_docstring"] = float(bool(mod_doc and len(mod_doc.split()) >= 3))
    feats["docstring_line_ratio"] = min(1.0, ratio(doc_lines, n_lines))
    feats["log_mean_docstring_words"] = log1p(ratio(sum(doc_words), len(doc_words)))
    joined = "\n".join(all_docs)[:MAX_PARSE_CHARS]
    feats["docstring_params"] = float(bool(DOC_PARAMS_RE.search(joined)))
    feats["docstring_returns"] = float(bool(DOC_RETURNS_RE.search(joined)))
    feats["docstring_examples"] = float(bool(DOC_EXAMPLES_RE.search(joined)))


def dump_311(node: object) -> str:
    """`ast.dump(node)` as CPython 3.11 writes it: 3.13 leaves out empty lists and None fields,
    which moves what the first 200 characters hold."""
    if isinstance(node, ast.AST):
        cls = type(node)
        args = [
            f"{name}={dump_311(value)}"
            for name in cls._fields
            if name != "type_params"  # 3.12's; never set in what 3.11 parses
            and (value := getattr(node, name, _MISSING)) is not _MISSING
            and not (value is None and getattr(cls, name, ...) is None)
        ]
        return f"{cls.__name__}({', '.join(args)})"
    if isinstance(node, list):
        return f"[{', '.join(dump_311(x) for x in node)}]"
    return repr(node)


_MISSING = object()


def _is_stub(f: _FuncDef) -> bool:
    """Only docstrings/constants, `pass` or `raise NotImplemented...` in the body."""
    body = [
        s for s in f.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]
    return not body or all(
        isinstance(s, ast.Pass)
        or (isinstance(s, ast.Raise) and "NotImplemented" in dump_311(s)[:200])
        for s in body
    )


def _calls_itself(f: _FuncDef) -> bool:
    return any(
        isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == f.name
        for sub in ast.walk(f)
    )


def _function_signals(c: PyWalk, feats: dict[str, float]) -> None:
    """Length, type hints, tests, decorators, stubs and recursion of the functions."""
    funcs = c.funcs
    n_args = n_ann = n_ret = 0
    func_lines: list[int] = []
    for f in funcs:
        args = [*f.args.posonlyargs, *f.args.args, *f.args.kwonlyargs]
        args = [a for a in args if a.arg not in ("self", "cls")]
        n_args += len(args)
        n_ann += sum(a.annotation is not None for a in args)
        n_ret += f.returns is not None
        end = getattr(f, "end_lineno", None) or f.lineno
        func_lines.append(end - f.lineno + 1)
    n = len(funcs)
    feats["log_mean_function_lines"] = log1p(ratio(sum(func_lines), len(func_lines)))
    feats["type_hint_ratio"] = ratio(n_ann, n_args)
    feats["return_hint_ratio"] = ratio(n_ret, n)
    feats["test_function_ratio"] = ratio(sum(f.name.startswith("test") for f in funcs), n)
    # A walk stopped at the bound did not see every call: look inside each function instead.
    recursive = c.recursive if c.complete else any(_calls_itself(f) for f in funcs)
    feats["has_recursion"] = float(recursive)
    feats["decorator_ratio"] = ratio(sum(bool(f.decorator_list) for f in funcs), n)
    feats["stub_ratio"] = ratio(sum(_is_stub(f) for f in funcs), n)


def _is_trivial(i: int, s: ast.stmt) -> bool:
    """An import, `pass`, leading docstring, literal or dunder assignment: no behaviour."""
    return (
        isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass))
        or (i == 0 and isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        or (
            isinstance(s, ast.Assign)
            and (
                _is_literal(s.value)
                or any(isinstance(t, ast.Name) and t.id.startswith("__") for t in s.targets)
            )
        )
    )


def _top_level_signals(tree: ast.Module, has_defs: bool, feats: dict[str, float]) -> None:
    """Imports and literal assignments among the module's own statements."""
    top = tree.body
    n_top = len(top)
    imports = sum(isinstance(s, (ast.Import, ast.ImportFrom)) for s in top)
    rel = sum(isinstance(s, ast.ImportFrom) and s.level > 0 for s in top)
    lit_assign = sum(
        isinstance(s, (ast.Assign, ast.AnnAssign)) and _is_literal(getattr(s, "value", None))
        for s in top
    )
    trivial = sum(_is_trivial(i, s) for i, s in enumerate(top))
    feats["imports_only"] = float(n_top > 0 and trivial == n_top and not has_defs)
    feats["import_ratio"] = ratio(imports, n_top)
    feats["relative_import_ratio"] = ratio(rel, n_top)
    feats["literal_assign_ratio"] = ratio(lit_assign, n_top)


def _walk_signals(c: PyWalk, n_stmt: int, feats: dict[str, float]) -> None:
    """Signals read straight off the walk's counts."""
    feats["log_n_functions"] = log1p(len(c.funcs))
    feats["log_n_classes"] = log1p(len(c.classes))
    feats["log_n_statements"] = log1p(n_stmt)
    feats["assert_density"] = min(1.0, ratio(c.asserts, n_stmt))
    feats["mean_name_length"] = min(40.0, ratio(sum(len(n) for n in c.names), len(c.names)))
    feats["short_name_ratio"] = ratio(sum(len(n) <= 2 for n in c.names), len(c.names))
    feats["loop_density"] = min(1.0, ratio(c.loops, n_stmt))
    feats["branch_density"] = min(1.0, ratio(c.branches, n_stmt))
    feats["max_nesting_depth"] = float(min(c.max_depth, 30))
    feats["self_attr_ratio"] = ratio(c.attr_self, c.attr_total)
    feats["attr_call_ratio"] = ratio(c.attr_calls, c.calls)
    feats["has_main_guard"] = float(c.main_guard)
    feats["print_calls"] = log1p(c.prints)
    feats["comprehension_count"] = log1p(c.comps)
    feats["exception_handling"] = log1p(c.excepts)


def python_features(tree: ast.Module, c: PyWalk, n_lines: int, feats: dict[str, float]) -> None:
    """Structure signals of a parsed Python snippet and its walk, written into `feats`."""
    # A walk stopped at the bound counts its MAX_AST_NODES nodes as the statements.
    n_stmt = c.n_stmt if c.n_nodes < MAX_AST_NODES else c.n_nodes
    _walk_signals(c, n_stmt, feats)
    _docstring_signals(tree, c, n_lines, feats)
    _function_signals(c, feats)
    _top_level_signals(tree, bool(c.funcs or c.classes), feats)
