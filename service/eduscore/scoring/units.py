"""Units from a whole file, cut the way the training corpus cut its units: Python's functions,
classes and module head; for the tree-sitter languages, top-level functions, types and impl
blocks with the comment above them, and the methods of a class too long to be one unit; config,
text and unparsed code in pieces of lines. A file is then judged from units the model knows.

Pure functions of the text: nothing is run, and the whole input is parsed (no character cap).
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from typing import Any

from eduscore.scoring.features.languages import LANGUAGES

#: The corpus's largest unit: a class or type longer than this is split into its members.
MAX_UNIT_CHARS = 3000
#: A module's head (`py_head`, `file_head` in the corpus) and the pieces of unparsed text.
HEAD_CHARS = 2200
#: Nodes that only group declarations: never a unit themselves, always entered (by the end of
#: their type name; C's conditional compilation wraps whole files in `#ifdef`).
_GROUPS = ("namespace", "module", "declaration_list", "linkage_specification", "program")
_GROUP_TYPES = frozenset(
    {"preproc_ifdef", "preproc_if", "preproc_else", "preproc_elif", "preproc_elifdef"}
)
#: Lines outside every unit become `block` units when a run has this many non-blank lines
#: (module-level code, tables, a main block): what a file holds besides its declarations.
_MIN_GAP_LINES = 3


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of a file: its kind, name, 1-based inclusive line range and (dedented) text."""

    kind: str  # head, function, class, method, block, piece
    name: str
    start_line: int
    end_line: int
    code: str


def split(code: str, fmt: str) -> list[Unit]:
    """The units of `code` read as `fmt` (a format of features.FORMATS); never raises, never
    empty for a text with any non-blank line."""
    units: list[Unit] | None = None
    try:
        if fmt == "python":
            units = _python(code)
        elif fmt in LANGUAGES:
            units = _tree_sitter(code, fmt)
    except (RecursionError, MemoryError, ValueError):
        units = None
    return units or pieces(code)


def pieces(code: str, size: int = HEAD_CHARS) -> list[Unit]:
    """Consecutive pieces of whole lines, each under `size` characters where a line allows,
    cut at a blank line when one falls in the second half of a piece."""
    lines = code.split("\n")
    out: list[Unit] = []
    start, length, blank = 0, 0, -1
    for i, line in enumerate(lines):
        if length + len(line) + 1 > size and i > start:
            cut = blank if blank > start + (i - start) // 2 else i
            out.append(_unit("piece", "", lines, start, cut))
            start, length, blank = cut, sum(len(ln) + 1 for ln in lines[cut:i]), -1
        length += len(line) + 1
        if not line.strip():
            blank = i
    out.append(_unit("piece", "", lines, start, len(lines)))
    return [u for u in out if u.code.strip()]


def _unit(kind: str, name: str, lines: list[str], start: int, end: int) -> Unit:
    """Lines [start, end) (0-based) as a unit, dedented (a method reads as the corpus's did)."""
    return Unit(kind, name, start + 1, end, textwrap.dedent("\n".join(lines[start:end])))


def _head(lines: list[str]) -> Unit:
    """The file's first HEAD_CHARS characters, cut at a line end: docstring, imports, constants."""
    n, end = 0, 0
    while end < len(lines) and n + len(lines[end]) + 1 <= HEAD_CHARS:
        n += len(lines[end]) + 1
        end += 1
    return _unit("head", "", lines, 0, max(end, 1))


def _comments_above(lines: list[str], start: int, marks: tuple[str, ...]) -> int:
    """The first line (0-based) of the comment block that ends right above line `start`."""
    while start > 0 and lines[start - 1].lstrip().startswith(marks):
        start -= 1
    return start


def _python(code: str) -> list[Unit] | None:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    lines = code.split("\n")
    units = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            units += _python_def(node, lines, "function")
    return _with_rest(lines, units)


def _with_rest(lines: list[str], units: list[Unit]) -> list[Unit]:
    """The head, the units, and the runs of lines no unit covers, in pieces (`block`)."""
    head = _head(lines)
    covered = bytearray(len(lines) + 1)
    for u in (head, *units):
        covered[u.start_line - 1 : u.end_line] = b"\x01" * (u.end_line - u.start_line + 1)
    rest: list[Unit] = []
    i = 0
    while i < len(lines):
        if covered[i]:
            i += 1
            continue
        j = i
        while j < len(lines) and not covered[j]:
            j += 1
        if sum(1 for ln in lines[i:j] if ln.strip()) >= _MIN_GAP_LINES:
            gap = pieces("\n".join(lines[i:j]))
            rest += [Unit("block", "", u.start_line + i, u.end_line + i, u.code) for u in gap]
        i = j
    return sorted([head, *units, *rest], key=lambda u: (u.start_line, u.end_line))


def _python_def(node: Any, lines: list[str], kind: str) -> list[Unit]:
    first = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
    start = _comments_above(lines, first, ("#",))
    is_class = isinstance(node, ast.ClassDef)
    unit = _unit("class" if is_class else kind, node.name, lines, start, node.end_lineno)
    if not is_class or len(unit.code) <= MAX_UNIT_CHARS:
        return [unit]
    members = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not members:
        return [unit]
    first_member = min([d.lineno for d in members[0].decorator_list] + [members[0].lineno]) - 1
    end = _comments_above(lines, first_member, ("#",))
    head = _type_head("class", node.name, lines, start, end)
    return [*head, *(u for m in members for u in _python_def(m, lines, "method"))]


def _type_head(kind: str, name: str, lines: list[str], start: int, end: int) -> list[Unit]:
    """A split type's lines before its first member (doc comment, signature, fields): a unit
    when it says more than its signature line; a bare `class X {` alone is no unit."""
    unit = _unit(kind, name, lines, start, end)
    nonblank = sum(1 for ln in unit.code.split("\n") if ln.strip())
    return [unit] if nonblank >= 3 else []


def _tree_sitter(code: str, fmt: str) -> list[Unit] | None:
    from eduscore.scoring.features import syntax_walk

    grammar = LANGUAGES[fmt].grammar(fmt, code)  # PHP: with or without its <?php tag
    spec = LANGUAGES[grammar]
    src = code.encode("utf-8", "surrogatepass")
    root = syntax_walk.parser(grammar).parse(src).root_node
    lines = code.split("\n")
    found: list[Unit] = []
    _collect(root, spec, lines, found, member=False)
    return _with_rest(lines, found) if found else None


def _declared(node: Any, spec: Any) -> Any:
    """The function or type `node` declares: itself, or the one a wrapper starting on its line
    holds (export, template, decorated or assigned declarations); None if neither."""
    for candidate in (node, *node.named_children[:3]):
        if candidate is not node and candidate.start_point[0] != node.start_point[0]:
            continue
        if candidate.type in spec.types:
            return candidate
        if candidate.type in spec.functions and spec.is_named_function(candidate):
            return candidate
    return None


def _collect(node: Any, spec: Any, lines: list[str], out: list[Unit], *, member: bool) -> None:
    for child in node.named_children:
        declared = _declared(child, spec)
        if declared is not None:
            _declaration(child, declared, spec, lines, out, member=member)
        elif (
            child.type.endswith(_GROUPS) or child.type in _GROUP_TYPES or "namespace" in child.type
        ):
            _collect(child, spec, lines, out, member=member)


def _declaration(
    node: Any, declared: Any, spec: Any, lines: list[str], out: list[Unit], *, member: bool
) -> None:
    start = _leading_comments(node, spec)
    end = node.end_point[0] + 1
    kind = "class" if declared.type in spec.types else ("method" if member else "function")
    name = _name(declared)
    unit = _unit(kind, name, lines, start, end)
    body = _members_body(declared)
    if len(unit.code) <= MAX_UNIT_CHARS or body is None:
        out.append(unit)
        return
    inner: list[Unit] = []
    _collect(body, spec, lines, inner, member=True)
    if not inner:
        out.append(unit)
        return
    out.extend([*_type_head(kind, name, lines, start, inner[0].start_line - 1), *inner])


def _members_body(node: Any) -> Any:
    """Where a type keeps its members (class body, declaration list, impl block body)."""
    body = node.child_by_field_name("body")
    if body is not None:
        return body
    for child in node.named_children:
        if child.type.endswith(("body", "declaration_list", "block")):
            return child
    return None


def _leading_comments(node: Any, spec: Any) -> int:
    row, prev = node.start_point[0], node.prev_named_sibling
    while prev is not None and prev.type in spec.comments and prev.end_point[0] >= row - 1:
        row, prev = prev.start_point[0], prev.prev_named_sibling
    return row


def _name(node: Any) -> str:
    name = node.child_by_field_name("name") or node.child_by_field_name("type")
    if name is None and node.parent is not None:  # `const f = () => ...`: the binding's name
        name = node.parent.child_by_field_name("name")
    return name.text.decode("utf-8", "replace")[:200] if name is not None else ""
