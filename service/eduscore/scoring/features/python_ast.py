"""Python structure features, via ``ast.parse``/``tokenize`` only: snippets are never executed."""

from __future__ import annotations

import ast
import builtins
import io
import re
import sys
import tokenize

from eduscore.scoring.features.formats import (
    _PROSE_WORD_RE,
    MAX_AST_NODES,
    MAX_PARSE_CHARS,
    _log1p,
    _ratio,
    explanation_features,
)

_DOC_PARAMS_RE = re.compile(
    r"(^[ \t]*(args|arguments|parameters|params|keyword args|attributes)[ \t]*:?[ \t]*$|:param\b|"
    r"^[ \t]*parameters[ \t]*\n[ \t]*-{3,}|@param\b)",
    re.IGNORECASE | re.MULTILINE,
)
_DOC_RETURNS_RE = re.compile(
    r"(^[ \t]*(returns?|yields?)[ \t]*:?|:returns?:|:rtype:|@returns?\b)",
    re.IGNORECASE | re.MULTILINE,
)
_DOC_EXAMPLES_RE = re.compile(
    r"(^[ \t]*(examples?|usage)[ \t]*:?[ \t]*$|>>>)", re.IGNORECASE | re.MULTILINE
)


def _parse_python(code: str) -> tuple[ast.Module | None, bool]:
    """Parse Python; on failure, retry on prefixes ending before a top-level line.

    Returns (tree, full) where full tells whether the whole text parsed.
    """
    src = code[:MAX_PARSE_CHARS]
    try:
        return ast.parse(src), len(code) <= MAX_PARSE_CHARS
    except Exception:
        pass
    lines = src.split("\n")
    starts = [i for i, ln in enumerate(lines) if i > 0 and ln[:1] not in ("", " ", "\t", "#")]
    for i in reversed(starts[-6:]):
        try:
            tree = ast.parse("\n".join(lines[:i]))
        except Exception:
            continue
        if tree.body:
            return tree, False
    return None, False


#: Modules a reader already knows: importing only these keeps a snippet self-contained.
_STDLIB = frozenset(sys.stdlib_module_names)
_BUILTINS = frozenset(dir(builtins))
_CODE_TOKENS = (tokenize.NAME, tokenize.OP, tokenize.NUMBER)


def _python_comments(
    src: str,
) -> tuple[int, int, list[str], int, int, list[tuple[int, int]], int]:
    """Tokenize Python: full-line and inline comments, their texts, string and number chars,
    comment positions and the number of code tokens (names, operators, numbers)."""
    full = inline = str_chars = num_chars = code_tokens = 0
    texts: list[str] = []
    comment_rows: list[tuple[int, int]] = []
    last_code_row = -1
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src[:MAX_PARSE_CHARS]).readline):
            if tok.type == tokenize.COMMENT:
                if tok.string.startswith("#!") or "coding" in tok.string[:30]:
                    continue
                texts.append(tok.string.lstrip("# "))
                comment_rows.append((tok.start[0], tok.start[1]))
                if last_code_row == tok.start[0]:
                    inline += 1
                else:
                    full += 1
            elif tok.type == tokenize.STRING:
                str_chars += len(tok.string)
                last_code_row = tok.end[0]
            elif tok.type == tokenize.NUMBER:
                num_chars += len(tok.string)
                last_code_row = tok.end[0]
            elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                last_code_row = tok.end[0]
            if tok.type in _CODE_TOKENS:
                code_tokens += 1
    except Exception:
        pass
    return full, inline, texts, str_chars, num_chars, comment_rows, code_tokens


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


def _docstring_text(node: ast.AST) -> str | None:
    body = getattr(node, "body", None)
    if not body or not isinstance(body, list):
        return None
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first.value.value
    return None


def _python_features(tree: ast.Module, n_lines: int, feats: dict[str, float]) -> None:
    funcs: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    classes: list[ast.ClassDef] = []
    names: list[str] = []
    n_nodes = loops = branches = prints = comps = excepts = asserts = 0
    attr_self = attr_total = calls = attr_calls = 0
    main_guard = False
    # iterative walk with depth tracking (no recursion on deeply nested code)
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    max_depth = 0
    block_types = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try)
    while stack and n_nodes < MAX_AST_NODES:
        node, depth = stack.pop()
        n_nodes += 1
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            funcs.append(node)
            names.append(node.name)
        elif isinstance(node, ast.ClassDef):
            classes.append(node)
            names.append(node.name)
        elif isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.arg):
            names.append(node.arg)
        elif isinstance(node, ast.Attribute):
            attr_total += 1
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                attr_self += 1
        elif isinstance(node, ast.Call):
            calls += 1
            if isinstance(node.func, ast.Attribute):
                attr_calls += 1
            elif isinstance(node.func, ast.Name) and node.func.id == "print":
                prints += 1
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            loops += 1
        elif isinstance(node, (ast.If, ast.IfExp, ast.Match)):
            branches += 1
            if (
                isinstance(node, ast.If)
                and depth <= 1
                and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name)
                and node.test.left.id == "__name__"
            ):
                main_guard = True
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            comps += 1
        elif isinstance(node, ast.ExceptHandler):
            excepts += 1
        elif isinstance(node, ast.Assert):
            asserts += 1
        nd = depth + 1 if isinstance(node, (*block_types, ast.FunctionDef, ast.ClassDef)) else depth
        max_depth = max(max_depth, nd)
        for child in ast.iter_child_nodes(node):
            stack.append((child, nd))

    n_stmt = (
        sum(isinstance(n, ast.stmt) for n in ast.walk(tree)) if n_nodes < MAX_AST_NODES else n_nodes
    )
    defs: list[ast.AST] = [*funcs, *classes]
    docs = [_docstring_text(d) for d in defs]
    documented = [d for d in docs if d and len(d.split()) >= 3]
    mod_doc = _docstring_text(tree)
    all_docs = [d for d in [mod_doc, *docs] if d]
    doc_lines = sum(d.count("\n") + 1 for d in all_docs)
    doc_words = [len(d.split()) for d in all_docs]

    n_args = n_ann = n_ret = 0
    tests = recursive = stubs = decorated = 0
    func_lines: list[int] = []
    for f in funcs:
        args = [*f.args.posonlyargs, *f.args.args, *f.args.kwonlyargs]
        args = [a for a in args if a.arg not in ("self", "cls")]
        n_args += len(args)
        n_ann += sum(a.annotation is not None for a in args)
        n_ret += f.returns is not None
        if f.name.startswith("test"):
            tests += 1
        if f.decorator_list:
            decorated += 1
        end = getattr(f, "end_lineno", None) or f.lineno
        func_lines.append(end - f.lineno + 1)
        body = [
            s for s in f.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        ]
        if not body or all(
            isinstance(s, ast.Pass)
            or (isinstance(s, ast.Raise) and "NotImplemented" in ast.dump(s)[:200])
            for s in body
        ):
            stubs += 1
        for sub in ast.walk(f):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Name)
                and sub.func.id == f.name
            ):
                recursive = 1
                break

    top = tree.body
    n_top = len(top)
    imports = sum(isinstance(s, (ast.Import, ast.ImportFrom)) for s in top)
    rel = sum(isinstance(s, ast.ImportFrom) and s.level > 0 for s in top)
    lit_assign = sum(
        isinstance(s, (ast.Assign, ast.AnnAssign)) and _is_literal(getattr(s, "value", None))
        for s in top
    )
    trivial = 0
    for i, s in enumerate(top):
        if (
            isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass))
            or (i == 0 and isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
            or (
                isinstance(s, ast.Assign)
                and (
                    _is_literal(s.value)
                    or any(isinstance(t, ast.Name) and t.id.startswith("__") for t in s.targets)
                )
            )
        ):
            trivial += 1

    feats["log_n_functions"] = _log1p(len(funcs))
    feats["log_n_classes"] = _log1p(len(classes))
    feats["log_n_statements"] = _log1p(n_stmt)
    feats["log_mean_function_lines"] = _log1p(_ratio(sum(func_lines), len(func_lines)))
    feats["docstring_coverage"] = (
        _ratio(len(documented), len(defs)) if defs else float(bool(mod_doc))
    )
    feats["module_docstring"] = float(bool(mod_doc and len(mod_doc.split()) >= 3))
    feats["docstring_line_ratio"] = min(1.0, _ratio(doc_lines, n_lines))
    feats["log_mean_docstring_words"] = _log1p(_ratio(sum(doc_words), len(doc_words)))
    joined = "\n".join(all_docs)[:MAX_PARSE_CHARS]
    feats["docstring_params"] = float(bool(_DOC_PARAMS_RE.search(joined)))
    feats["docstring_returns"] = float(bool(_DOC_RETURNS_RE.search(joined)))
    feats["docstring_examples"] = float(bool(_DOC_EXAMPLES_RE.search(joined)))
    feats["type_hint_ratio"] = _ratio(n_ann, n_args)
    feats["return_hint_ratio"] = _ratio(n_ret, len(funcs))
    feats["test_function_ratio"] = _ratio(tests, len(funcs))
    feats["assert_density"] = min(1.0, _ratio(asserts, n_stmt))
    feats["imports_only"] = float(n_top > 0 and trivial == n_top and not funcs and not classes)
    feats["import_ratio"] = _ratio(imports, n_top)
    feats["relative_import_ratio"] = _ratio(rel, n_top)
    feats["literal_assign_ratio"] = _ratio(lit_assign, n_top)
    feats["mean_name_length"] = min(40.0, _ratio(sum(len(n) for n in names), len(names)))
    feats["short_name_ratio"] = _ratio(sum(len(n) <= 2 for n in names), len(names))
    feats["loop_density"] = min(1.0, _ratio(loops, n_stmt))
    feats["branch_density"] = min(1.0, _ratio(branches, n_stmt))
    feats["has_recursion"] = float(recursive)
    feats["max_nesting_depth"] = float(min(max_depth, 30))
    feats["self_attr_ratio"] = _ratio(attr_self, attr_total)
    feats["attr_call_ratio"] = _ratio(attr_calls, calls)
    feats["has_main_guard"] = float(main_guard)
    feats["print_calls"] = _log1p(prints)
    feats["decorator_ratio"] = _ratio(decorated, len(funcs))
    feats["stub_ratio"] = _ratio(stubs, len(funcs))
    feats["comprehension_count"] = _log1p(comps)
    feats["exception_handling"] = _log1p(excepts)


def _name_parts(name: str) -> set[str]:
    """snake_case and CamelCase parts of an identifier, lower-cased, plural 's' dropped."""
    parts = re.split(r"_|(?<=[a-z])(?=[A-Z])", name)
    return {p.lower().rstrip("s") for p in parts if p}


def context_features(
    tree: ast.Module, comments: list[str], code_tokens: int, feats: dict[str, float]
) -> None:
    """How much a snippet leans on code the reader cannot see, and how much of it explains.

    The rubric's level 2 is "depends on much unseen context" and "methods that only call other
    project internals"; level 3 needs "some explanation" that does more than repeat the name.
    These measure both from the syntax tree and the comments, never running anything.
    """
    defined: set[str] = set()
    loaded: set[str] = set()
    refs: list[str] = []
    imports: list[str] = []
    calls = builtin_calls = 0
    docs: list[tuple[str, str]] = []
    for n_nodes, node in enumerate(ast.walk(tree)):
        if n_nodes >= MAX_AST_NODES:
            break
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded.add(node.id)
            else:
                defined.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.alias):
            defined.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            defined.add(node.name)
        elif isinstance(node, ast.Attribute):
            refs.append(node.attr)
        elif isinstance(node, ast.Import):
            imports += [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            imports.append("." if node.level else (node.module or "").split(".")[0])
        elif isinstance(node, ast.Call):
            calls += 1
            builtin_calls += isinstance(node.func, ast.Name) and node.func.id in _BUILTINS
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            doc = _docstring_text(node)
            if doc:
                docs.append((getattr(node, "name", ""), doc))
    free = {x for x in loaded if x not in defined and x not in _BUILTINS}
    refs += loaded
    feats["free_name_ratio"] = _ratio(len(free), len(loaded))
    feats["private_ref_ratio"] = _ratio(
        sum(r.startswith("_") and not r.startswith("__") for r in refs), len(refs)
    )
    feats["stdlib_import_ratio"] = (
        _ratio(sum(m in _STDLIB for m in imports), len(imports)) if imports else 1.0
    )
    feats["log_third_party_imports"] = _log1p(sum(m not in _STDLIB for m in imports))
    feats["log_distinct_names"] = _log1p(len(loaded | defined))
    feats["builtin_call_ratio"] = _ratio(builtin_calls, calls)

    doc_words = sum(len(_PROSE_WORD_RE.findall(d)) for _, d in docs)
    explanation_features(comments, doc_words, code_tokens, feats)
    overlaps = []
    for name, doc in docs:
        words = _PROSE_WORD_RE.findall(doc.split("\n\n")[0]) if name else []
        if words:
            parts = _name_parts(name)
            overlaps.append(_ratio(sum(w.lower().rstrip("s") in parts for w in words), len(words)))
    feats["doc_name_overlap"] = _ratio(sum(overlaps), len(overlaps))
