"""Structure of non-Python code from a real parser (tree-sitter), in the signals Python has.

One walk over the syntax tree fills the same named signals `python_ast` fills for Python
(functions, types, doc coverage by the language's own convention, nesting, names, tests,
prints, error handling), so the head can learn "documented, self-contained, explained" once
and apply it to every language. Grammars come compiled in their PyPI wheels: nothing is
fetched at run time, and a snippet is only parsed, never run.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from eduscore.scoring.features.formats import MAX_AST_NODES, MAX_PARSE_CHARS, log1p, ratio
from eduscore.scoring.features.languages import LANGUAGES, LanguageSpec, comment_text
from eduscore.scoring.features.python_ast import (
    DOC_EXAMPLES_RE,
    DOC_PARAMS_RE,
    DOC_RETURNS_RE,
)

#: Identifier node types across the grammars (names a reader must understand).
_NAME_TYPES = frozenset(
    {
        "identifier",
        "field_identifier",
        "type_identifier",
        "property_identifier",
        "shorthand_property_identifier",
        "variable_name",
        "package_identifier",
        "namespace_identifier",
    }
)
_LOOPS = frozenset(
    {
        "for_statement",
        "for_in_statement",
        "enhanced_for_statement",
        "c_style_for_statement",
        "for_expression",
        "while_statement",
        "while_expression",
        "do_statement",
        "loop_expression",
        "for_range_loop",
    }
)
_BRANCHES = frozenset(
    {
        "if_statement",
        "if_expression",
        "switch_statement",
        "switch_expression",
        "expression_switch_statement",
        "type_switch_statement",
        "select_statement",
        "match_expression",
        "case_statement",
        "ternary_expression",
        "conditional_expression",
    }
)
_HANDLERS = frozenset({"catch_clause", "try_expression", "except_clause", "defer_statement"})
_STRINGS = frozenset(
    {
        "string",
        "string_literal",
        "raw_string_literal",
        "interpreted_string_literal",
        "template_string",
        "raw_string",
        "char_literal",
    }
)
_PRINT_RE = re.compile(
    r"^(print(ln|f)?!?|console\.\w+|fmt\.(Print|Fprint)\w*|System\.out\.\w+|"
    r"puts|fprintf|echo|printf|log\.Print\w*|std::cout)$"
)
_ASSERT_RE = re.compile(
    r"^(assert\w*!?|expect|t\.(Error|Fatal)\w*|require\.\w+|assert\.\w+|"
    r"Assert\.\w+|EXPECT_\w+|ASSERT_\w+|CHECK\w*)$"
)
_TEST_CALL_RE = re.compile(r"^(describe|it|test|TEST(_F)?)$")


@cache
def _parser(grammar: str) -> Any:
    """One parser per grammar, built on first use (a few ms each)."""
    import tree_sitter

    return tree_sitter.Parser(tree_sitter.Language(LANGUAGES[grammar].load()))


@dataclass
class _Walk:
    """What one pass over the tree collects."""

    spec: LanguageSpec
    src: bytes
    n_nodes: int = 0
    errors: int = 0
    max_depth: int = 0
    loops: int = 0
    branches: int = 0
    handlers: int = 0
    asserts: int = 0
    prints: int = 0
    test_calls: int = 0
    calls: int = 0
    attr_calls: int = 0
    imports: int = 0
    string_bytes: int = 0
    functions: list[Any] = field(default_factory=list)
    types: list[Any] = field(default_factory=list)
    comments: list[Any] = field(default_factory=list)
    names: Counter[str] = field(default_factory=Counter)

    def text(self, node: Any) -> str:
        return self.src[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _visit(w: _Walk, node: Any, kind: str, depth: int) -> int:
    """Count one node; returns the nesting depth its children are at."""
    spec = w.spec
    if kind == "ERROR" or node.is_missing:
        w.errors += 1
    if kind in spec.functions and spec.is_named_function(node):
        w.functions.append(node)
    elif kind in spec.types and spec.is_type_definition(node):
        w.types.append(node)
    elif kind in spec.comments:
        w.comments.append(node)
    elif kind in _NAME_TYPES:
        w.names[w.text(node)] += 1
    elif kind in _STRINGS:
        w.string_bytes += node.end_byte - node.start_byte
    elif kind in spec.calls:
        w.calls += 1
        target = spec.callee(w, node)
        w.attr_calls += "." in target or "::" in target or "->" in target
        w.prints += bool(_PRINT_RE.match(target))
        w.asserts += bool(_ASSERT_RE.match(target))
        w.test_calls += bool(_TEST_CALL_RE.match(target))
    elif kind in spec.imports:
        w.imports += 1
    if kind in _LOOPS:
        w.loops += 1
    elif kind in _BRANCHES:
        w.branches += 1
    elif kind in _HANDLERS:
        w.handlers += 1
    if kind in _LOOPS or kind in _BRANCHES or kind in spec.functions or kind in spec.types:
        depth += 1
        w.max_depth = max(w.max_depth, depth)
    return depth


def _walk(w: _Walk, tree: Any, kinds: dict[int, str]) -> None:
    """Pre-order walk with a cursor (no recursion limit on deep code, no list of children per
    node), capped in nodes; only the node kinds a signal reads go through `_visit`."""
    check_missing = tree.root_node.has_error  # no ERROR and no MISSING node anywhere otherwise
    cursor = tree.walk()
    depth, outer = 0, []  # nesting depth of the current node, and of each open ancestor's
    while True:
        node = cursor.node
        w.n_nodes += 1
        kind = kinds.get(node.kind_id)
        if kind is None:
            kind = kinds[node.kind_id] = _kind(w.spec, node.type)
        if kind:
            child_depth = _visit(w, node, kind, depth)
        else:
            child_depth = depth
            w.errors += check_missing and node.is_missing
        if w.n_nodes >= MAX_AST_NODES:
            return
        if cursor.goto_first_child():
            outer.append(depth)
            depth = child_depth
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return
            depth = outer.pop()


@cache
def _kinds(grammar: str) -> dict[int, str]:
    """Per grammar, filled as kinds are met: node kind id -> its type name, or "" for a kind no
    signal reads (most: punctuation, keywords, expressions)."""
    return {}


def _kind(spec: LanguageSpec, kind: str) -> str:
    read = (
        kind == "ERROR"
        or kind in spec.functions
        or kind in spec.types
        or kind in spec.comments
        or kind in _NAME_TYPES
        or kind in _STRINGS
        or kind in spec.calls
        or kind in spec.imports
        or kind in _LOOPS
        or kind in _BRANCHES
        or kind in _HANDLERS
    )
    return kind if read else ""


def parse(code: str, fmt: str) -> _Walk | None:
    """The walk of `code` parsed as `fmt`, or None when no grammar covers it."""
    spec = LANGUAGES.get(fmt)
    if spec is None:
        return None
    src = code[:MAX_PARSE_CHARS].encode("utf-8", "surrogatepass")
    tree = _parser(fmt).parse(src)
    w = _Walk(spec=spec, src=src)
    _walk(w, tree, _kinds(fmt))
    return w


def code_features(w: _Walk, n_lines: int, feats: dict[str, float]) -> None:
    """Fill the structural signals from a walk (documentation first, then the code)."""
    fnames = [w.spec.name_of(w, f) for f in w.functions]
    _doc_features(w, fnames, n_lines, feats)
    stmts = max(w.n_nodes // 8, 1)  # tree-sitter has no statement class: ~8 nodes a statement
    tests = sum(w.spec.is_test(w, f, name) for f, name in zip(w.functions, fnames, strict=True))
    func_lines = [f.end_point[0] - f.start_point[0] + 1 for f in w.functions]
    feats["parse_ok"] = float(w.errors == 0)
    feats["parse_partial"] = float(w.errors > 0)
    feats["syntax_error_ratio"] = min(1.0, ratio(w.errors * 50, w.n_nodes))
    feats["log_n_functions"] = log1p(len(w.functions))
    feats["log_n_classes"] = log1p(len(w.types))
    feats["log_n_statements"] = log1p(stmts)
    feats["log_mean_function_lines"] = log1p(ratio(sum(func_lines), len(func_lines)))
    if tests or w.test_calls:  # test functions, or describe/it/test blocks (JS)
        found = max(tests, min(w.test_calls, len(fnames) or 1))
        feats["test_function_ratio"] = ratio(found, max(len(fnames), 1))
    feats["assert_density"] = min(1.0, ratio(w.asserts, stmts))
    feats["import_ratio"] = min(1.0, ratio(w.imports, stmts))
    feats["log_third_party_imports"] = log1p(w.imports)
    _name_features(w, feats)
    feats["loop_density"] = min(1.0, ratio(w.loops, stmts))
    feats["branch_density"] = min(1.0, ratio(w.branches, stmts))
    pairs = zip(w.functions, fnames, strict=True)
    feats["has_recursion"] = float(any(n and _calls_itself(w, f, n) for f, n in pairs))
    feats["max_nesting_depth"] = float(min(w.max_depth, 30))
    feats["attr_call_ratio"] = ratio(w.attr_calls, w.calls)
    feats["has_main_guard"] = float("main" in fnames)
    feats["print_calls"] = log1p(w.prints)
    feats["stub_ratio"] = ratio(sum(w.spec.is_stub(f) for f in w.functions), len(w.functions))
    feats["exception_handling"] = log1p(w.handlers + w.spec.error_checks(w))
    feats["literal_density"] = ratio(w.string_bytes, len(w.src))


def _doc_features(w: _Walk, fnames: list[str], n_lines: int, feats: dict[str, float]) -> None:
    """Doc comments by the language's convention: coverage, size, and the sections a
    textbook-like API doc has (parameters, returns, examples)."""
    defs = [*w.functions, *w.types]
    docs = [w.spec.doc_comment(w, d) for d in defs]
    documented = [d for d in docs if d and len(d.split()) >= 3]
    header = w.spec.header_comment(w)
    all_docs = [d for d in [header, *docs] if d]
    joined = "\n".join(all_docs)[:MAX_PARSE_CHARS]
    words = [len(d.split()) for d in all_docs]
    feats["docstring_coverage"] = ratio(len(documented), len(defs)) if defs else float(bool(header))
    feats["module_docstring"] = float(bool(header and len(header.split()) >= 3))
    doc_lines = sum(d.count("\n") + 1 for d in all_docs)
    feats["docstring_line_ratio"] = min(1.0, ratio(doc_lines, n_lines))
    feats["log_mean_docstring_words"] = log1p(ratio(sum(words), len(words)))
    params = DOC_PARAMS_RE.search(joined) or _PARAM_RE.search(joined)
    feats["docstring_params"] = float(bool(params))
    feats["docstring_returns"] = float(bool(DOC_RETURNS_RE.search(joined)))
    examples = DOC_EXAMPLES_RE.search(joined) or "```" in joined or "@example" in joined
    feats["docstring_examples"] = float(
        bool(examples) or any(n.startswith("Example") for n in fnames)
    )


def _name_features(w: _Walk, feats: dict[str, float]) -> None:
    total, distinct = sum(w.names.values()), len(w.names)
    feats["mean_name_length"] = min(40.0, ratio(sum(len(n) * c for n, c in w.names.items()), total))
    feats["short_name_ratio"] = ratio(sum(c for n, c in w.names.items() if len(n) <= 2), total)
    feats["log_distinct_names"] = log1p(distinct)
    # Names seen once: used but never defined or reused here, i.e. defined somewhere unseen.
    feats["free_name_ratio"] = ratio(sum(c == 1 for c in w.names.values()), distinct)


_PARAM_RE = re.compile(r"(#\s*(Arguments|Parameters)\b|@(param|arg|argument)\b|\\param\b)")


def comment_stats(w: _Walk) -> tuple[int, int, int, list[str]]:
    """Full-line, inline and indented (in-body) comment counts and their texts, from the
    parser's comment nodes (so `//` inside a string or URL is no comment, as a regex has it)."""
    full = inline = body = 0
    texts = []
    for node in w.comments:
        raw = w.text(node)
        if raw.startswith("#!"):
            continue
        line_start = w.src.rfind(b"\n", 0, node.start_byte) + 1
        if w.src[line_start : node.start_byte].strip():
            inline += 1
        else:
            full += raw.count("\n") + 1
            body += node.start_point[1] > 0
        texts.append(comment_text(raw))
    return full, inline, body, texts


def _calls_itself(w: _Walk, func: Any, name: str) -> bool:
    """Whether `name` appears inside its own body after the signature (a recursive call)."""
    body = w.spec.body_of(func)
    return body is not None and re.search(rf"\b{re.escape(name)}\s*\(", w.text(body)) is not None
