"""The interface every tree-sitter language fills (`LanguageSpec`): which nodes are functions,
types, comments, calls and imports, and how the language documents a declaration.

The defaults suit the C-like languages first covered (Go, Rust, Java, JS/TS, C, shell); a
language overrides what differs (its node kinds, its doc-comment markers, its test idioms).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from eduscore.scoring.features.formats import LICENSE_RE, has_marker

#: Nodes whose children are separate declarations: a doc comment is a sibling inside them.
CONTAINERS = frozenset(
    {
        "program",
        "source_file",
        "translation_unit",
        "statement_block",
        "class_body",
        "declaration_list",
        "field_declaration_list",
        "interface_body",
        "enum_body",
        "block",
        "compound_statement",
        "module",
    }
)
#: Attribute-like siblings between a doc comment and its declaration (#[derive], @decorator).
_ATTRIBUTES = frozenset({"attribute_item", "decorator", "marker_annotation", "annotation"})
#: Anonymous functions count only when bound to a name (a callback is not an API to document).
_BINDERS = frozenset(
    {
        "variable_declarator",
        "pair",
        "assignment_expression",
        "public_field_definition",
        "field_definition",
    }
)
_ANONYMOUS = frozenset({"arrow_function", "function_expression", "function", "func_literal"})
_MARKER_RE = re.compile(r"^\s*(/\*+!?|\*+/|\*|//[/!]?|#+!?)", re.MULTILINE)
STUB_RE = re.compile(r"todo!|unimplemented!|NotImplemented|not implemented|UnsupportedOperation")

#: Identifier node types across the first grammars (names a reader must understand).
NAME_TYPES = frozenset({
    "identifier", "field_identifier", "type_identifier", "property_identifier",
    "shorthand_property_identifier", "variable_name", "package_identifier",
    "namespace_identifier",
})  # fmt: skip
LOOPS = frozenset({
    "for_statement", "for_in_statement", "enhanced_for_statement", "c_style_for_statement",
    "for_expression", "while_statement", "while_expression", "do_statement", "loop_expression",
    "for_range_loop",
})  # fmt: skip
BRANCHES = frozenset({
    "if_statement", "if_expression", "switch_statement", "switch_expression",
    "expression_switch_statement", "type_switch_statement", "select_statement",
    "match_expression", "case_statement", "ternary_expression", "conditional_expression",
})  # fmt: skip
HANDLERS = frozenset({"catch_clause", "try_expression", "except_clause", "defer_statement"})
STRINGS = frozenset({
    "string", "string_literal", "raw_string_literal", "interpreted_string_literal",
    "template_string", "raw_string", "char_literal",
})  # fmt: skip
PRINT = (
    r"print(ln|f)?!?|console\.\w+|fmt\.(Print|Fprint)\w*|System\.out\.\w+|"
    r"puts|fprintf|echo|printf|log\.Print\w*|std::cout"
)
ASSERT = (
    r"assert\w*!?|expect|t\.(Error|Fatal)\w*|require\.\w+|assert\.\w+|"
    r"Assert\.\w+|EXPECT_\w+|ASSERT_\w+|CHECK\w*"
)
TEST_CALL = r"describe|it|test|TEST(_F)?"


#: A class around a method cut out of its class (PHP and C# accept no bare member).
WRAPPER_OPEN, WRAPPER_CLOSE = "class W__ {\n", "\n}"
#: Leading comments and attributes, up to a declaration's first keyword.
_LEADING_RE = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/|#\[[^\n]*|#[^\n]*|\[[^\]\n]*\])*", re.DOTALL)


def whole(pattern: str) -> re.Pattern[str]:
    """A callee pattern that must match the whole callee text."""
    return re.compile(rf"^({pattern})$")


_PRINT_RE, _ASSERT_RE, _TEST_CALL_RE = whole(PRINT), whole(ASSERT), whole(TEST_CALL)


def comment_text(raw: str) -> str:
    """A comment's words without its markers (`//`, `///`, `/**`, ` * `, `#`, `*/`)."""
    return _MARKER_RE.sub("", raw.replace("*/", "")).strip()


@dataclass(frozen=True)
class LanguageSpec:
    """How to read one language's syntax tree."""

    module: str
    functions: frozenset[str]
    types: frozenset[str]
    comments: frozenset[str]
    calls: frozenset[str]
    imports: frozenset[str]
    entry: str = "language"
    #: Idioms that handle errors without a try/catch node (Go's `err != nil`, shell's `set -e`).
    error_re: re.Pattern[str] | None = None
    #: Function names that mark a test (TestX in Go, test_x in C).
    test_name_re: re.Pattern[str] = re.compile(r"^(test|Test|Benchmark)")
    names: frozenset[str] = NAME_TYPES
    loops: frozenset[str] = LOOPS
    branches: frozenset[str] = BRANCHES
    handlers: frozenset[str] = HANDLERS
    strings: frozenset[str] = STRINGS
    containers: frozenset[str] = CONTAINERS
    #: Callee texts that print, assert, or open a test block (`describe`/`it`).
    print_re: re.Pattern[str] = _PRINT_RE
    assert_re: re.Pattern[str] = _ASSERT_RE
    test_call_re: re.Pattern[str] = _TEST_CALL_RE
    #: Calls that import (Ruby's `require`), and calls that loop (Ruby's `each`).
    import_calls: frozenset[str] = frozenset()
    loop_call_re: re.Pattern[str] | None = None
    #: An attribute in a declaration's first characters that marks a test (`[Fact]`).
    test_marker_re: re.Pattern[str] | None = None
    #: Comment openers that are no header text (shebang; Ruby's magic comments).
    header_skip: tuple[str, ...] = ("#!",)
    stub_re: re.Pattern[str] = STUB_RE
    #: Only named nodes are read: `if` is both a Ruby node and a keyword token.
    named_only: bool = False
    main_name: str = "main"
    #: Modifiers that open a class member (`public function`): such text needs a class around.
    member_re: re.Pattern[str] | None = None
    #: Close a cut text's open braces when it does not parse as given (see `syntax.parse`).
    close_cut: bool = False

    def load(self) -> Any:
        return getattr(importlib.import_module(self.module), self.entry)()

    def grammar(self, fmt: str, code: str) -> str:
        """The grammar to parse `code` with (PHP has one for tagged text, one for bare code)."""
        return fmt

    def is_bare_member(self, text: str) -> bool:
        """Whether `text` is a class member without its class (leading comments skipped)."""
        if self.member_re is None:
            return False
        lead = _LEADING_RE.match(text)
        return self.member_re.match(text, lead.end() if lead else 0) is not None

    def wrapped_body(self, root: Any) -> Any:
        """The body of the wrapper class in `root` (the text given), or `root` if not found."""
        cls = root.named_children[0] if root.named_child_count else None
        body = cls.child_by_field_name("body") if cls is not None else None
        return body if body is not None else root

    def closers(self, src: bytes) -> bytes:
        """What closes a text cut inside its blocks: the braces it leaves open (at most 40)."""
        missing = src.count(b"{") - src.count(b"}")
        return b"\n}" * missing if 0 < missing <= 40 else b""

    def is_named_function(self, node: Any) -> bool:
        if node.type in _ANONYMOUS:
            return node.parent is not None and node.parent.type in _BINDERS
        return True

    def is_type_definition(self, node: Any) -> bool:
        """C's `struct x` in a declaration is a use; only one with a body defines a type."""
        if node.type.endswith("_specifier"):
            return node.child_by_field_name("body") is not None
        return True

    def body_of(self, node: Any) -> Any:
        return node.child_by_field_name("body")

    def name_of(self, w: Any, node: Any) -> str:
        name = node.child_by_field_name("name")
        if name is None and node.parent is not None and node.type in _ANONYMOUS:
            name = node.parent.child_by_field_name("name") or node.parent.child_by_field_name(
                "left"
            )
        if name is None:
            name = node.child_by_field_name("declarator")
            while name is not None and name.child_by_field_name("declarator") is not None:
                name = name.child_by_field_name("declarator")
        return w.text(name).split("::")[-1] if name is not None else ""

    def callee(self, w: Any, node: Any) -> str:
        fn = node.child_by_field_name("function") or node.child_by_field_name("macro")
        if fn is not None:
            return w.text(fn) + ("!" if node.type == "macro_invocation" else "")
        name, obj = node.child_by_field_name("name"), node.child_by_field_name("object")
        if name is None:
            return ""
        return f"{w.text(obj)}.{w.text(name)}" if obj is not None else w.text(name)

    def is_test(self, w: Any, node: Any, name: str) -> bool:
        if name and self.test_name_re.match(name):
            return True
        prev = node.prev_named_sibling
        head = w.text(node)[:80]
        if self.test_marker_re is not None and self.test_marker_re.search(head):
            return True
        return "@Test" in head or (
            prev is not None and prev.type == "attribute_item" and "test" in w.text(prev)
        )

    def is_stub(self, node: Any) -> bool:
        body = self.body_of(node)
        if body is None:
            return True
        return body.named_child_count == 0 or bool(
            self.stub_re.search(body.text.decode(errors="replace")[:300])
        )

    def has_main(self, w: Any, fnames: list[str]) -> bool:
        """Whether the code runs as a program (a `main` function; Ruby's `__FILE__ == $0`)."""
        return self.main_name in fnames

    def extra_prints(self, w: Any) -> int:
        """Prints that are no call node (C++'s `std::cout <<`)."""
        return 0

    def error_checks(self, w: Any) -> int:
        if self.error_re is None:
            return 0
        return len(self.error_re.findall(w.src.decode("utf-8", "replace")))

    def doc_comment(self, w: Any, node: Any) -> str:
        """The comments right above a declaration (or its export/let wrapper), attributes
        skipped: how Go, Rust (`///`), Java/JS (`/** */`) and C document an item."""
        anchor = node
        while (
            anchor.parent is not None
            and anchor.parent.type not in self.containers
            and anchor.parent.start_point[0] == anchor.start_point[0]
        ):
            anchor = anchor.parent
        row, prev, parts = anchor.start_point[0], anchor.prev_sibling, []
        while prev is not None and prev.type in _ATTRIBUTES:
            row, prev = prev.start_point[0], prev.prev_sibling
        while prev is not None and prev.type in self.comments and prev.end_point[0] >= row - 1:
            raw = w.text(prev)
            if raw.startswith(("//!", "/*!")):
                break  # an inner doc comment documents the module, not this item
            parts.append(comment_text(raw))
            row, prev = prev.start_point[0], prev.prev_sibling
        return "\n".join(reversed(parts))

    def header_comment(self, w: Any) -> str:
        """The comments that open the file (license text and shebang left out)."""
        parts = []
        for child in w.comments[:40]:
            raw = w.text(child)
            if raw.startswith(self.header_skip) or has_marker(LICENSE_RE, raw):
                continue
            parent = child.parent
            if parent is None or parent.parent is not None:
                break  # only top-level comments
            if (
                child.prev_named_sibling is not None
                and child.prev_named_sibling.type not in self.comments
            ):
                break
            parts.append(comment_text(raw))
        return "\n".join(parts)
