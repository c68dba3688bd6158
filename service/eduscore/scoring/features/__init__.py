"""Cheap, explainable, never-raising features of a code snippet for educational-value scoring."""

from __future__ import annotations

import math
import re
from typing import Any

from eduscore.scoring import signal_errors
from eduscore.scoring.features import python_walk, syntax
from eduscore.scoring.features.detection import detect_format
from eduscore.scoring.features.formats import (
    CI_RE,
    CONFIG_FORMATS,
    CURLY_FORMATS,
    FORMATS,
    GENERATED_RE,
    LICENSE_RE,
    MAX_CHARS,
    MAX_PARSE_CHARS,
    URL_RE,
    WORD_RE,
    comment_stats,
    explanation_features,
    has_marker,
    log1p,
    non_python_code_tokens,
    ratio,
)
from eduscore.scoring.features.python_ast import LazyParse, python_features
from eduscore.scoring.features.python_context import context_features, python_comments

__all__ = [
    "FEATURE_NAMES",
    "FORMATS",
    "detected_language",
    "extract",
    "extract_vector",
    "format_of",
]

FEATURE_NAMES: tuple[str, ...] = (
    # detected format (one-hot) and parsing
    *(f"is_{f}" for f in FORMATS),
    "config_format",
    "curly_syntax",
    "parse_ok",
    "parse_partial",
    "syntax_error_ratio",
    # size and shape
    "log_n_chars",
    "log_n_lines",
    "mean_line_length",
    "log_max_line_length",
    "long_line_ratio",
    "blank_line_ratio",
    "non_ascii_ratio",
    "minified",
    # comments (all formats)
    "comment_ratio",
    "inline_comment_ratio",
    "log_comment_words",
    "comment_in_body_ratio",
    # markers
    "generated_marker",
    "license_marker",
    "ci_config_marker",
    "url_density",
    # Python structure
    "log_n_functions",
    "log_n_classes",
    "log_n_statements",
    "log_mean_function_lines",
    "docstring_coverage",
    "module_docstring",
    "docstring_line_ratio",
    "log_mean_docstring_words",
    "docstring_params",
    "docstring_returns",
    "docstring_examples",
    "has_doctest",
    "type_hint_ratio",
    "return_hint_ratio",
    "test_function_ratio",
    "assert_density",
    "imports_only",
    "import_ratio",
    "relative_import_ratio",
    "literal_assign_ratio",
    "literal_density",
    "number_density",
    "mean_name_length",
    "short_name_ratio",
    "loop_density",
    "branch_density",
    "has_recursion",
    "max_nesting_depth",
    "self_attr_ratio",
    "attr_call_ratio",
    "has_main_guard",
    "print_calls",
    "decorator_ratio",
    "stub_ratio",
    "comprehension_count",
    "exception_handling",
    "jsdoc_blocks",
    # Python: dependence on unseen context
    "free_name_ratio",
    "private_ref_ratio",
    "stdlib_import_ratio",
    "log_third_party_imports",
    "log_distinct_names",
    "builtin_call_ratio",
    # how much of the text explains (the first three in every format, the last Python only)
    "explain_ratio",
    "comment_sentence_ratio",
    "log_comment_words_per_line",
    "doc_name_overlap",
)


_QUOTED_RE = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'")
_NUMBER_RE = re.compile(r"\b\d[\d.]*\b")
#: Doc-comment openers by convention: JSDoc/Javadoc `/**`, rustdoc `///` and `//!`.
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
_DOC_MARK_RE = re.compile(r"/\*\*|^[ \t]*//[/!]", re.MULTILINE)


def _zero() -> dict[str, float]:
    return dict.fromkeys(FEATURE_NAMES, 0.0)


def _extract(code: str, language: str) -> dict[str, float]:
    feats = _zero()
    if not isinstance(code, str):
        code = str(code)
    code = code[:MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    lines = code.split("\n")
    n_lines = _shape_features(code, lines, feats)

    parsed = LazyParse(code)
    hint = language if isinstance(language, str) else ""
    fmt = detect_format(code, lines, lambda: _python_for_detection(parsed, code, len(lines)), hint)
    tree, full = parsed() if fmt == "python" else (None, False)  # only Python reads the tree
    feats[f"is_{fmt}"] = 1.0
    feats["config_format"] = float(fmt in CONFIG_FORMATS)
    feats["curly_syntax"] = float(fmt in CURLY_FORMATS)
    is_py = fmt == "python" and tree is not None
    walk = syntax.parse(code, fmt)  # None unless a grammar covers the format
    feats["parse_ok"] = float(is_py and full)
    feats["parse_partial"] = float(is_py and not full)

    code_tokens = 0
    if fmt == "python":
        full_c, inline_c, texts, str_chars, num_chars, rows, code_tokens = python_comments(code)
        feats["literal_density"] = ratio(str_chars, len(code))
        feats["number_density"] = ratio(num_chars, len(code))
        body_comments = sum(col > 0 for _, col in rows)
    else:
        if walk is not None:
            full_c, inline_c, body_comments, texts = syntax.comment_stats(walk)
        else:
            full_c, inline_c, _, texts = comment_stats(lines, fmt)
            body_comments = sum(1 for ln in lines if ln[:1] in " \t" and ln.lstrip()[:1] == "#")
        quoted = sum(len(m) for m in _QUOTED_RE.findall(code))
        feats["literal_density"] = ratio(quoted, len(code))
        feats["number_density"] = ratio(sum(len(m) for m in _NUMBER_RE.findall(code)), len(code))
        explanation_features(texts, 0, non_python_code_tokens(code, texts), feats)
    n_words = sum(len(WORD_RE.findall(t)) for t in texts)
    feats["comment_ratio"] = min(1.0, ratio(full_c, n_lines))
    feats["inline_comment_ratio"] = min(1.0, ratio(inline_c, n_lines))
    feats["log_comment_words"] = log1p(n_words)
    feats["comment_in_body_ratio"] = min(1.0, ratio(body_comments, n_lines))
    _marker_features(code, fmt, walk is not None, feats)

    if is_py and tree is not None:
        walked = python_walk.walk(tree)  # one walk feeds both the structure and the context signals
        python_features(tree, walked, n_lines, feats)
        context_features(tree, walked, texts, code_tokens, feats)
    elif walk is not None:
        syntax.code_features(walk, n_lines, feats)
    return feats


def _python_for_detection(parsed: LazyParse, code: str, n_lines: int) -> tuple[Any, bool]:
    """Python's parse and whether it decides: a whole parse, or a prefix covering most of the
    text (a file's head cut mid-statement; a long file parsed to MAX_PARSE_CHARS). A prefix of
    a few lines proves nothing: "x = 1" opens Ruby and Swift too."""
    tree, full = parsed()
    if full or tree is None or not tree.body:
        return tree, full
    covered = getattr(tree.body[-1], "end_lineno", 0) or 0
    return tree, len(code) > MAX_PARSE_CHARS or covered >= 0.5 * n_lines


def _shape_features(code: str, lines: list[str], feats: dict[str, float]) -> int:
    """Size and layout, any format; returns the number of non-blank lines (at least 1)."""
    nonblank = [ln for ln in lines if ln.strip()]
    n_lines = max(len(nonblank), 1)
    lengths = [len(ln) for ln in lines]
    feats["log_n_chars"] = log1p(len(code))
    feats["log_n_lines"] = log1p(len(nonblank))
    feats["mean_line_length"] = min(500.0, ratio(sum(len(ln) for ln in nonblank), n_lines))
    feats["log_max_line_length"] = log1p(max(lengths) if lengths else 0)
    feats["long_line_ratio"] = ratio(sum(n > 120 for n in lengths), n_lines)
    feats["blank_line_ratio"] = ratio(len(lines) - len(nonblank), len(lines))
    non_ascii = 0 if code.isascii() else len(_NON_ASCII_RE.findall(code))
    feats["non_ascii_ratio"] = ratio(non_ascii, len(code))
    feats["minified"] = float(
        (len(code) > 1000 and len(lines) <= 3) or feats["mean_line_length"] > 200
    )
    return n_lines


def _marker_features(code: str, fmt: str, parsed: bool, feats: dict[str, float]) -> None:
    """Generated, licence, CI and URL markers; doctests and doc-comment openers."""
    head = code[:4000]
    n_lines = max(code.count("\n") + 1, 1)
    feats["generated_marker"] = float(has_marker(GENERATED_RE, head))
    feats["license_marker"] = float(has_marker(LICENSE_RE, head))
    feats["ci_config_marker"] = log1p(len(CI_RE.findall(code))) if fmt == "yaml" else 0.0
    feats["url_density"] = min(1.0, ratio(len(URL_RE.findall(code)), n_lines))
    feats["has_doctest"] = float(">>>" in code)
    marked = "/**" in code or "///" in code or "//!" in code  # the regex finds none otherwise
    feats["jsdoc_blocks"] = log1p(len(_DOC_MARK_RE.findall(code))) if parsed and marked else 0.0


def format_of(code: str, language: str = "") -> str:
    """The format of a whole text (what `extract` would detect, without measuring signals):
    a long file is judged from units that all share it. Never raises."""
    try:
        head = code[:MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n")
        lines = head.split("\n")
        parsed = LazyParse(head)
        return detect_format(
            head, lines, lambda: _python_for_detection(parsed, head, len(lines)), language
        )
    except Exception as exc:
        signal_errors.record(exc, language)
        return "text"


def extract(code: str, language: str = "") -> dict[str, float]:
    """Return the named features of ``code`` (``language`` is an optional hint, may be "").

    Always returns exactly ``FEATURE_NAMES`` with finite floats; never raises.
    """
    try:
        feats = _extract(code, language)
    except Exception as exc:
        signal_errors.record(exc, language)
        feats = _zero()
        feats["is_text"] = 1.0
    values = [feats.get(name, 0.0) for name in FEATURE_NAMES]
    # The usual case, all floats and finite (a sum of finite floats can only overflow: then
    # the loop below decides), needs no conversion.
    if all(type(v) is float for v in values) and math.isfinite(sum(values)):
        return dict(zip(FEATURE_NAMES, values, strict=True))
    out: dict[str, float] = {}
    for name in FEATURE_NAMES:
        try:
            v = float(feats.get(name, 0.0))
        except (TypeError, ValueError, OverflowError):
            v = 0.0
        out[name] = v if math.isfinite(v) else 0.0
    return out


def extract_vector(code: str, language: str = "") -> list[float]:
    """Features in ``FEATURE_NAMES`` order."""
    f = extract(code, language)
    return [f[n] for n in FEATURE_NAMES]


def detected_language(signals: dict[str, float]) -> str:
    """The format the signals say the snippet is (python, json, yaml, ..., text)."""
    for fmt in FORMATS:
        if signals.get(f"is_{fmt}"):
            return fmt
    return "text"
