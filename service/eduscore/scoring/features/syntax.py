"""Structure of non-Python code from a real parser (tree-sitter), in the signals Python has.

One walk over the syntax tree fills the same named signals `python_ast` fills for Python
(functions, types, doc coverage by the language's own convention, nesting, names, tests,
prints, error handling), so the head can learn "documented, self-contained, explained" once
and apply it to every language. Grammars come compiled in their PyPI wheels: nothing is
fetched at run time, and a snippet is only parsed, never run.
"""

from __future__ import annotations

import re
from typing import Any

from eduscore.scoring.features import syntax_walk
from eduscore.scoring.features.formats import MAX_PARSE_CHARS, log1p, ratio
from eduscore.scoring.features.language_spec import WRAPPER_CLOSE, WRAPPER_OPEN, LanguageSpec
from eduscore.scoring.features.languages import LANGUAGES, comment_text
from eduscore.scoring.features.python_ast import (
    DOC_EXAMPLES_RE,
    DOC_PARAMS_RE,
    DOC_RETURNS_RE,
)
from eduscore.scoring.features.syntax_walk import Walk


def parse(code: str, fmt: str) -> Walk | None:
    """The walk of `code` parsed as `fmt`, or None when no grammar covers it."""
    spec = LANGUAGES.get(fmt)
    if spec is None:
        return None
    text = code[:MAX_PARSE_CHARS]
    if text[:1] == "\ufeff":
        text = text[1:]  # a byte-order mark (Windows editors) is no token: the parser chokes on it
    grammar = spec.grammar(fmt, text)
    spec = LANGUAGES[grammar]
    wrapped = spec.is_bare_member(text)
    if wrapped:  # a method cut out of its class: parse it inside one, walk only what was given
        text = f"{WRAPPER_OPEN}{text}{WRAPPER_CLOSE}"
    src = text.encode("utf-8", "surrogatepass")
    root, closed = _parse_closing(grammar, src, spec)
    w = Walk(spec=spec, src=src)
    syntax_walk.walk(w, spec.wrapped_body(root) if wrapped else root, syntax_walk.kinds(grammar))
    w.errors += closed  # the text itself stays cut: partial, not clean
    return w


def _parse_closing(grammar: str, src: bytes, spec: LanguageSpec) -> tuple[Any, bool]:
    """The parse of `src`; for a text cut before its closing braces (the head of a long file),
    the parse with them added, when only that makes it clean. Some grammars (C#, Ruby)
    otherwise turn the whole unclosed file into one ERROR node and no class or method is seen."""
    parser = syntax_walk.parser(grammar)
    root = parser.parse(src).root_node
    if spec.close_cut and root.has_error:
        closers = spec.closers(src)
        if closers:
            closed = parser.parse(src + closers).root_node
            if not closed.has_error:
                return closed, True
    return root, False


def code_features(w: Walk, n_lines: int, feats: dict[str, float]) -> None:
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
    feats["has_main_guard"] = float(w.spec.has_main(w, fnames))
    feats["print_calls"] = log1p(w.prints + w.spec.extra_prints(w))
    feats["stub_ratio"] = ratio(sum(w.spec.is_stub(f) for f in w.functions), len(w.functions))
    feats["exception_handling"] = log1p(w.handlers + w.spec.error_checks(w))
    feats["literal_density"] = ratio(w.string_bytes, len(w.src))


def _doc_features(w: Walk, fnames: list[str], n_lines: int, feats: dict[str, float]) -> None:
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
    returns = DOC_RETURNS_RE.search(joined) or _RETURNS_RE.search(joined)
    feats["docstring_returns"] = float(bool(returns))
    examples = DOC_EXAMPLES_RE.search(joined) or "```" in joined or _EXAMPLE_RE.search(joined)
    feats["docstring_examples"] = float(
        bool(examples) or any(n.startswith("Example") for n in fnames)
    )


def _name_features(w: Walk, feats: dict[str, float]) -> None:
    total, distinct = sum(w.names.values()), len(w.names)
    feats["mean_name_length"] = min(40.0, ratio(sum(len(n) * c for n, c in w.names.items()), total))
    feats["short_name_ratio"] = ratio(sum(c for n, c in w.names.items() if len(n) <= 2), total)
    feats["log_distinct_names"] = log1p(distinct)
    # Names seen once: used but never defined or reused here, i.e. defined somewhere unseen.
    feats["free_name_ratio"] = ratio(sum(c == 1 for c in w.names.values()), distinct)


# Beyond Python's conventions: Rust's `# Arguments`, JSDoc/PHPDoc/YARD `@param`, Doxygen
# `\param`/`\return`, C# XML `<param>`/`<returns>`/`<example>`, Swift DocC `- Parameter x:`,
# `- Returns:`, `- Example:`.
_PARAM_RE = re.compile(
    r"(#\s*(Arguments|Parameters)\b|@(param|arg|argument)\b|\\param\b|<param\b|"
    r"^[ \t]*-[ \t]*[Pp]arameters?\b)",
    re.MULTILINE,
)
_RETURNS_RE = re.compile(r"(<returns>|\\returns?\b|^[ \t]*-[ \t]*[Rr]eturns?:)", re.MULTILINE)
_EXAMPLE_RE = re.compile(r"(@example|<example>|^[ \t]*-[ \t]*[Ee]xamples?:)", re.MULTILINE)


def comment_stats(w: Walk) -> tuple[int, int, int, list[str]]:
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


def _calls_itself(w: Walk, func: Any, name: str) -> bool:
    """Whether `name` appears inside its own body after the signature (a recursive call)."""
    body = w.spec.body_of(func)
    return body is not None and called(w.text(body), name)


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"  # what `\w` matches in a str pattern


def called(text: str, name: str) -> bool:
    r"""`re.search(rf"\b{re.escape(name)}\s*\(", text)` for a non-empty name, by hand: a
    pattern per function name overflowed the `re` cache (512) and was compiled each time."""
    starts_word = _is_word(name[0])
    i = text.find(name)
    while i >= 0:
        if (i > 0 and _is_word(text[i - 1])) != starts_word:  # `\b` before the name
            j = i + len(name)
            while j < len(text) and text[j].isspace():
                j += 1
            if j < len(text) and text[j] == "(":
                return True
        i = text.find(name, i + 1)
    return False
