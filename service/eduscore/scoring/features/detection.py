"""Which format a text is in: exact checks for the data formats (JSON, TOML, INI, YAML,
Dockerfile, Makefile), Python's own parser, then the learned detector (language_id.py) for the
other programming languages, `other` code and prose; and a caller's hint, taken where the text
allows it."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from collections.abc import Callable
from typing import Any

from eduscore.scoring.features import language_id
from eduscore.scoring.features.formats import (
    MAX_PARSE_CHARS,
    PROGRAMMING_LANGUAGES,
)

#: Below this probability the detector's language is not trusted (then `other` or `text`).
DETECT_MIN_P = 0.3

_LANG_ALIASES: dict[str, str] = {
    "py": "python",
    "python": "python",
    "python3": "python",
    "json": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "ini": "ini",
    "cfg": "ini",
    "shell": "shell",
    "bash": "shell",
    "sh": "shell",
    "zsh": "shell",
    "dockerfile": "dockerfile",
    "docker": "dockerfile",
    "makefile": "makefile",
    "make": "makefile",
    "javascript": "javascript",
    "js": "javascript",
    "typescript": "typescript",
    "ts": "typescript",
    "tsx": "typescript",
    "jsx": "javascript",
    "go": "go",
    "golang": "go",
    "java": "java",
    "rust": "rust",
    "rs": "rust",
    "c": "c",
    "h": "c",
    "cpp": "cpp",
    "c++": "cpp",
    "cc": "cpp",
    "cxx": "cpp",
    "hpp": "cpp",
    "cs": "csharp",
    "c#": "csharp",
    "csharp": "csharp",
    "php": "php",
    "rb": "ruby",
    "ruby": "ruby",
    "swift": "swift",
    "sql": "sql",
    "text": "text",
    "txt": "text",
}

_DOCKER_RE = re.compile(
    r"^[ \t]*(FROM|RUN|COPY|ADD|ENV|WORKDIR|CMD|ENTRYPOINT|EXPOSE|ARG|LABEL|USER|VOLUME)\s",
    re.MULTILINE,
)
#: A rule ("targets: prerequisites" then a tab-indented recipe). A parenthesis only as a
#: variable's `$(...)`: `func gcd(_ m: Int) -> Int {` over a tab-indented body is Swift, not make.
_MAKE_WORD = r"(?:\$[({][^)}\s]+[)}]|[\w./%-])+"
_MAKE_TARGET_RE = re.compile(
    rf"^{_MAKE_WORD}(?:[ \t]+{_MAKE_WORD})*[ \t]*:(?!=)[^\n]*\n\t", re.MULTILINE
)
#: A line at column 0 that opens a brace block: a function or type in a C-family language (Go,
#: Swift, TypeScript with tabs), which no Makefile has.
_TOP_BLOCK_RE = re.compile(r"^(?:\S[^\n]*)?\{[ \t]*$", re.MULTILINE)
#: Line patterns, counted in one findall over "\n" + the lines joined by "\n" (not a match per
#: line): each starts at a "\n" (a literal the regex engine skips to, where "^" is tried at
#: every position) and no other part matches one, so each counts the lines that match.
_YAML_LINE_RE = re.compile(r"\n(?:[ \t]*(?:- )?[\w\"'.$/-]+[ \t]*:(?:[ \t]|$)|[ \t]*- )", re.M)
_TEMPLATE_LINE_RE = re.compile(r"\n[ \t]*\{\{", re.M)
_INI_SECTION_RE = re.compile(r"^[ \t]*\[[^\]\n]+\][ \t]*$", re.MULTILINE)
_INI_LINE_RE = re.compile(r"\n(?:[ \t]*[\w.-]+[ \t]*[=:]|[ \t]*\[[^\]\n]+\][ \t]*$)", re.M)
_JSON_LINE_RE = re.compile(
    r'\n[ \t]*(?:"[^"\n]*"[ \t]*:|[\[\]{}],?[ \t]*$|"[^"\n]*",?[ \t]*$|//|[-\d.]+,?[ \t]*$|\{|\[)',
    re.M,
)


def _looks_python(tree: ast.Module) -> bool:
    """A parse succeeds on some plain text and simple YAML; demand real Python statements."""
    body = tree.body
    if not body:
        return False
    weak = 0
    for node in body:
        if isinstance(node, ast.AnnAssign) and node.value is None:
            weak += 1
        elif isinstance(node, ast.Expr) and isinstance(node.value, (ast.Name, ast.Constant)):
            weak += 1 if not isinstance(node.value, ast.Constant) or len(body) == 1 else 0
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.UnaryOp):
            weak += 1  # "- item": a YAML list entry parses as a negated name
    return weak < len(body)


def hint_format(hint: str) -> str:
    """The format a caller's language hint names ('' for none or an unknown name)."""
    return _LANG_ALIASES.get(hint.strip().lower(), "") if hint else ""


def detect_format(
    code: str,
    lines: list[str],
    python_tree: Callable[[], tuple[ast.Module | None, bool]],
    hint: str,
) -> str:
    """The snippet's format, from the text: exact checks for data formats (JSON, TOML, INI, YAML,
    Dockerfile, Makefile), Python's own parser (`python_tree`, only called once the data formats
    are ruled out), then the learned detector. A caller's hint decides where the text allows it
    (`_plausible`): a pipeline's hint comes from the file name and is right far more often than
    a detector reading a few lines, but a wrong hint must not turn YAML into Python."""
    found = _detect(code, lines, python_tree)
    wanted = hint_format(hint)
    if not wanted or wanted == found:
        return found
    return wanted if _plausible(wanted, found, code) else found


#: A hinted language is taken when the detector gives it at least this probability (a hint
#: against a confident detector is a caller's mistake: a shell script sent as "python"). On the
#: corpus's programming units, 0.001 overrules 1 right hint in 7,038 and takes 7 % of random
#: wrong ones; 0.02 overrules 17 and takes 1.6 % (the detector is sure of itself on short code).
HINT_MIN_P = 0.001


#: A language whose code is (nearly all) valid code of another: a hint for the larger one is
#: right whatever the detector prefers (C in a .cpp file, untyped code in a .ts file).
_SUPERSETS = {"cpp": "c", "typescript": "javascript"}


def _plausible(wanted: str, found: str, code: str) -> bool:
    if found in ("text", "other") or _SUPERSETS.get(wanted) == found:
        return True  # the text does not say otherwise: the caller knows better
    if wanted not in PROGRAMMING_LANGUAGES:  # a data format, sql or text
        return found not in PROGRAMMING_LANGUAGES
    detector = language_id.shipped()
    if detector is None or wanted not in detector.classes:
        return False
    probs = detector.probabilities(code)
    if found not in PROGRAMMING_LANGUAGES:  # the rules found a data format: the hint must win
        return max(probs, key=probs.__getitem__) == wanted  # the detector's own choice too
    return probs[wanted] >= HINT_MIN_P


def _detect(
    code: str, lines: list[str], python_tree: Callable[[], tuple[ast.Module | None, bool]]
) -> str:
    stripped = code.strip()
    if not stripped:
        return "text"
    if stripped[:1] in "{[" and len(stripped) <= MAX_PARSE_CHARS and _parses(json.loads, stripped):
        return "json"
    head = stripped[:MAX_PARSE_CHARS]
    if head.startswith("#!") and re.match(r"#!.*\b(ba|z|da)?sh\b", head):
        return "shell"
    nonblank = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")][:400]
    n = max(len(nonblank), 1)
    joined = "\n" + "\n".join(nonblank)
    ini_lines = len(_INI_LINE_RE.findall(joined))
    if nonblank and _INI_SECTION_RE.match(nonblank[0]):
        if _parses(tomllib.loads, head):
            return "toml"
        if ini_lines >= 0.5 * n:
            return "ini"
    # Not "//" openers: that is how Rust, Go, C and JS files start too.
    if stripped[:1] in "{[" and len(_JSON_LINE_RE.findall(joined)) >= 0.6 * n:
        return "json"
    # Object literals ("KEY: 'v',") read like YAML; lines ending as code does rule it out.
    yaml_like = 0 if _code_endings(joined) >= 0.3 * n else len(_YAML_LINE_RE.findall(joined))
    templated = len(_TEMPLATE_LINE_RE.findall(joined))
    if templated and yaml_like + templated >= 0.6 * n:  # Helm/Jinja-templated YAML
        return "yaml"
    if language_id.c_preprocessed(head):  # to Python's parser "#include <uv.h>" is a comment
        return _detect_code(head)
    tree, full = python_tree()
    # Only a whole parse decides: a prefix of Ruby or Swift can parse as Python ("x = 1"); a
    # partial parse is the detector's to judge (Python is one of its languages).
    if tree is not None and full and _looks_python(tree):
        return "python"
    if stripped.startswith(('"""', "'''", 'r"""')):
        return "python"
    if _DOCKER_RE.search(head) and sum(bool(_DOCKER_RE.match(ln)) for ln in nonblank) >= 0.3 * n:
        return "dockerfile"
    if _MAKE_TARGET_RE.search(head) and not _TOP_BLOCK_RE.search(head):
        return "makefile"
    if _INI_SECTION_RE.search(head):
        if _parses(tomllib.loads, head, non_empty=True):
            return "toml"
        if ini_lines >= 0.7 * n:
            return "ini"
    if yaml_like >= 0.6 * n and yaml_like >= 2:
        return "yaml"
    code_like = _CODE_HINT_RE.search(head)
    if "=" in head and not code_like and _parses(tomllib.loads, head, non_empty=True):
        return "toml"
    return _detect_code(head)


_CODE_END_RE = re.compile(r"[,;{(]$|^\s*[})\]]", re.M)


def _code_endings(joined: str) -> int:
    """Lines that end as code does (`,` `;` `{` `(`) or close a bracket."""
    return len(_CODE_END_RE.findall(joined))


def _parses(loads: Any, text: str, *, non_empty: bool = False) -> bool:
    """Whether a strict parser accepts the text (and, with `non_empty`, finds something)."""
    try:
        value = loads(text)
    except Exception:
        return False
    return bool(value) or not non_empty


#: Braces, semicolons and declarations: text that is code, whichever language.
_CODE_HINT_RE = re.compile(r"[{};]|\b(func|fn|def|function|class|fi|done)\b")


def _detect_code(head: str) -> str:
    """Among programming languages the learned detector decides (it also knows prose and code
    in other languages); when it is unsure, code-like text is `other`, the rest `text`."""
    detector = language_id.shipped()
    if detector is None:
        return "text"
    lang, p = detector.predict(head)
    if p >= DETECT_MIN_P:
        return lang
    return "other" if _CODE_HINT_RE.search(head) else "text"
