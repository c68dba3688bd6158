"""One pre-order pass over a tree-sitter syntax tree, counting what the signals read.

The node kinds below are the grammars' own names; a kind no signal reads is recognised by its
numeric id and skipped, so the pass costs little more than moving a cursor over the tree.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from eduscore.scoring.features.formats import MAX_AST_NODES
from eduscore.scoring.features.languages import LANGUAGES, LanguageSpec

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


def walk(w: Walk, tree: Any, kinds: dict[int, str]) -> None:
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
def kinds(grammar: str) -> dict[int, str]:
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
