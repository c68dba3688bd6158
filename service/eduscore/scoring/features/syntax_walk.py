"""One pre-order pass over a tree-sitter syntax tree, counting what the signals read.

The node kinds a signal reads are the grammar's own names, listed in its `LanguageSpec`; a kind
no signal reads is recognised by its numeric id and skipped, so the pass costs little more than
moving a cursor over the tree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from eduscore.scoring.features.formats import MAX_AST_NODES
from eduscore.scoring.features.languages import LANGUAGES, LanguageSpec


@cache
def parser(grammar: str) -> Any:
    """One parser per grammar, built on first use (a few ms each)."""
    import tree_sitter

    return tree_sitter.Parser(tree_sitter.Language(LANGUAGES[grammar].load()))


@dataclass
class Walk:
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


def _visit(w: Walk, node: Any, kind: str, depth: int) -> int:
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
    elif kind in spec.names:
        w.names[w.text(node)] += 1
    elif kind in spec.strings:
        w.string_bytes += node.end_byte - node.start_byte
    elif kind in spec.calls:
        _call(w, spec, spec.callee(w, node))
    elif kind in spec.imports:
        w.imports += 1
    if kind in spec.loops:
        w.loops += 1
    elif kind in spec.branches:
        w.branches += 1
    elif kind in spec.handlers:
        w.handlers += 1
    if kind in spec.loops or kind in spec.branches or kind in spec.functions or kind in spec.types:
        depth += 1
        w.max_depth = max(w.max_depth, depth)
    return depth


def _call(w: Walk, spec: LanguageSpec, target: str) -> None:
    """Count one call by what it calls: a print, an assert, a test block, an import, a loop."""
    w.calls += 1
    w.attr_calls += "." in target or "::" in target or "->" in target
    w.prints += bool(spec.print_re.match(target))
    w.asserts += bool(spec.assert_re.match(target))
    w.test_calls += bool(spec.test_call_re.match(target))
    if spec.import_calls and target in spec.import_calls:
        w.imports += 1
    if spec.loop_call_re is not None and spec.loop_call_re.search(target):
        w.loops += 1  # Ruby iterates by calling: `each`, `times`, `upto`


def walk(w: Walk, root: Any, kinds: dict[int, str]) -> None:
    """Pre-order walk of `root`'s subtree with a cursor (no recursion limit on deep code, no
    list of children per node), capped in nodes; only the node kinds a signal reads go through
    `_visit`."""
    check_missing = root.has_error  # no ERROR and no MISSING node anywhere otherwise
    cursor = root.walk()
    depth, outer = 0, []  # nesting depth of the current node, and of each open ancestor's
    while True:
        node = cursor.node
        w.n_nodes += 1
        kind = kinds.get(node.kind_id)
        if kind is None:
            kind = kinds[node.kind_id] = _kind(w.spec, node)
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
def kinds(grammar: str) -> dict[int, str]:
    """Per grammar, filled as kinds are met: node kind id -> its type name, or "" for a kind no
    signal reads (most: punctuation, keywords, expressions)."""
    return {}


def _kind(spec: LanguageSpec, node: Any) -> str:
    kind = node.type
    if spec.named_only and not node.is_named:
        return ""  # Ruby's `if` keyword token is no `if` node
    read = (
        kind == "ERROR"
        or kind in spec.functions
        or kind in spec.types
        or kind in spec.comments
        or kind in spec.names
        or kind in spec.strings
        or kind in spec.calls
        or kind in spec.imports
        or kind in spec.loops
        or kind in spec.branches
        or kind in spec.handlers
    )
    return kind if read else ""
