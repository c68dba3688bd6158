"""PHP, Ruby and Swift: how each one's tree names functions, calls, tests and doc comments.

PHP documents with PHPDoc `/** */` and calls through `->` and `::`; Ruby documents with `#`
lines (YARD tags) above a `def`, imports and loops by calling (`require`, `each`) and tests
in RSpec blocks or `test_` methods; Swift documents with `///` DocC and tests with XCTest or
`@Test`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eduscore.scoring.features.language_spec import TEST_CALL, LanguageSpec, whole
from eduscore.scoring.features.languages_c_family import only_raises

_RUBY_OPEN_RE = re.compile(
    rb"^[ \t]*(class|module|def|if|unless|while|until|case|begin|for)\b(?![^\n]*\bend\b)|"
    rb"\bdo[ \t]*(\|[^|\n]*\|)?[ \t]*$",
    re.MULTILINE,
)
_RUBY_END_RE = re.compile(rb"^[ \t]*end\b", re.MULTILINE)
#: PHPUnit's `#[Test]` attribute (bare or fully qualified).
_PHP_TEST_RE = re.compile(r"#\[\s*\\?(PHPUnit\\Framework\\Attributes\\)?Test\b")


@dataclass(frozen=True)
class PhpSpec(LanguageSpec):
    """PHP: `$obj->method()`, `Class::method()`, `echo`; bare code or `<?php`-tagged text."""

    def grammar(self, fmt: str, code: str) -> str:
        # Most units are class methods without a tag; a file opens with `<?php` or HTML.
        tagged = code.lstrip()[:1] == "<" or "\n<?php" in code
        return "php_tagged" if tagged else "php"

    def callee(self, w: Any, node: Any) -> str:
        kind = node.type
        if kind == "echo_statement" or kind == "print_intrinsic":
            return "echo" if kind == "echo_statement" else "print"
        fn = node.child_by_field_name("function")
        if fn is not None:
            return w.text(fn)
        name = node.child_by_field_name("name")
        if name is None:
            return ""
        scope = node.child_by_field_name("scope")
        if scope is not None:
            return f"{w.text(scope)}::{w.text(name)}"
        obj = node.child_by_field_name("object")
        return f"{w.text(obj)}->{w.text(name)}" if obj is not None else w.text(name)

    def is_test(self, w: Any, node: Any, name: str) -> bool:
        if super().is_test(w, node, name):
            return True
        prev = node.prev_named_sibling  # PHPUnit's `/** @test */` annotation
        return prev is not None and prev.type == "comment" and "@test" in w.text(prev)

    def is_stub(self, node: Any) -> bool:
        return only_raises(self, node)


@dataclass(frozen=True)
class RubySpec(LanguageSpec):
    """Ruby: every call is `call` (receiver, method), even `require`, `puts` and `each`."""

    def callee(self, w: Any, node: Any) -> str:
        method = node.child_by_field_name("method")
        if method is None:
            return ""
        receiver = node.child_by_field_name("receiver")
        return f"{w.text(receiver)}.{w.text(method)}" if receiver is not None else w.text(method)

    def is_stub(self, node: Any) -> bool:
        return only_raises(self, node)

    def doc_comment(self, w: Any, node: Any) -> str:
        # Comments before a class's first statement belong to the class node, not its body:
        # for the body's first declaration, look above the body.
        parent = node.parent
        if (
            parent is not None
            and parent.type == "body_statement"
            and (parent.start_byte == node.start_byte)
        ):
            node = parent
        return super().doc_comment(w, node)

    def has_main(self, w: Any, fnames: list[str]) -> bool:
        return b"__FILE__" in w.src  # `if __FILE__ == $0`: run as a script, not required

    def closers(self, src: bytes) -> bytes:
        # Ruby closes blocks with `end`: one for each opener at a line's start or `do` at its end.
        missing = len(_RUBY_OPEN_RE.findall(src)) - len(_RUBY_END_RE.findall(src))
        return b"\nend" * missing if 0 < missing <= 40 else b""


@dataclass(frozen=True)
class SwiftSpec(LanguageSpec):
    """Swift: a call's callee is its first child; `#expect(...)` is a macro invocation."""

    def callee(self, w: Any, node: Any) -> str:
        fn = node.named_children[0] if node.named_child_count else None
        if fn is None:
            return ""
        return ("#" if node.type == "macro_invocation" else "") + w.text(fn)

    def is_stub(self, node: Any) -> bool:
        return only_raises(self, node)

    def has_main(self, w: Any, fnames: list[str]) -> bool:
        return b"@main" in w.src or "main" in fnames


_PHP = dict(
    module="tree_sitter_php",
    functions=frozenset({"function_definition", "method_declaration"}),
    types=frozenset(
        {"class_declaration", "interface_declaration", "trait_declaration", "enum_declaration"}
    ),
    comments=frozenset({"comment"}),
    calls=frozenset(
        {
            "function_call_expression",
            "member_call_expression",
            "nullsafe_member_call_expression",
            "scoped_call_expression",
            "object_creation_expression",
            "echo_statement",
            "print_intrinsic",
        }
    ),
    imports=frozenset(
        {
            "namespace_use_declaration",
            "require_expression",
            "require_once_expression",
            "include_expression",
            "include_once_expression",
        }
    ),
    names=frozenset({"name"}),  # `$x` is variable_name > name: count the name once
    loops=frozenset({"for_statement", "foreach_statement", "while_statement", "do_statement"}),
    branches=frozenset(
        {
            "if_statement",
            "else_if_clause",
            "switch_statement",
            "match_expression",
            "conditional_expression",
        }
    ),
    handlers=frozenset({"catch_clause"}),
    strings=frozenset({"string", "encapsed_string", "heredoc", "nowdoc"}),
    containers=frozenset({"program", "declaration_list", "compound_statement"}),
    print_re=whole(r"echo|print|printf|print_r|var_dump|var_export"),
    assert_re=whole(
        r"(\$this->|self::|static::|Assert::)?(assert\w*|fail)|\$this->expect\w*|expect"
    ),
    test_call_re=whole(TEST_CALL),  # Pest: `it('adds', fn () => ...)`, `test(...)`
    test_marker_re=_PHP_TEST_RE,
    named_only=True,
    close_cut=True,
    member_re=re.compile(
        r"(public|private|protected|static|abstract|final|readonly|var)\b"
        r"(?!(\s+\w+)*?\s+(class|interface|trait|enum)\b)"  # a top-level class needs no wrapper
    ),
)
PHP = PhpSpec(entry="language_php_only", **_PHP)  # type: ignore[arg-type]
PHP_TAGGED = PhpSpec(entry="language_php", **_PHP)  # type: ignore[arg-type]

RUBY = RubySpec(
    module="tree_sitter_ruby",
    functions=frozenset({"method", "singleton_method"}),
    types=frozenset({"class", "module", "singleton_class"}),
    comments=frozenset({"comment"}),
    calls=frozenset({"call"}),
    imports=frozenset(),
    names=frozenset({"identifier", "constant", "instance_variable", "class_variable"}),
    loops=frozenset({"while", "until", "for", "while_modifier", "until_modifier"}),
    branches=frozenset(
        {
            "if",
            "unless",
            "elsif",
            "case",
            "case_match",
            "conditional",
            "if_modifier",
            "unless_modifier",
        }
    ),
    handlers=frozenset({"rescue", "rescue_modifier"}),
    strings=frozenset({"string", "heredoc_body"}),
    containers=frozenset({"program", "body_statement"}),
    print_re=whole(
        r"puts|print|p|pp|printf|putc|warn|(\$stdout|STDOUT|\$stderr|STDERR)\.(puts|print|write)"
    ),
    assert_re=whole(r"assert\w*|refute\w*|flunk|expect|.*\.(must|wont)_\w+"),
    test_call_re=whole(r"(RSpec\.)?(describe|context|it|specify)|test"),
    import_calls=frozenset({"require", "require_relative"}),
    loop_call_re=re.compile(r"(^|\.)(each(_\w+)?|times|upto|downto|step|loop)$"),
    header_skip=("#!", "# frozen_string_literal", "# encoding", "# -*-", "# coding", "# typed:"),
    named_only=True,
    close_cut=True,
)

SWIFT = SwiftSpec(
    module="tree_sitter_swift",
    functions=frozenset(
        {
            "function_declaration",
            "init_declaration",
            "deinit_declaration",
            "protocol_function_declaration",
            "subscript_declaration",
        }
    ),
    types=frozenset({"class_declaration", "protocol_declaration"}),
    comments=frozenset({"comment", "multiline_comment"}),
    calls=frozenset({"call_expression", "macro_invocation"}),
    imports=frozenset({"import_declaration"}),
    names=frozenset({"simple_identifier", "type_identifier"}),
    loops=frozenset({"for_statement", "while_statement", "repeat_while_statement"}),
    branches=frozenset({"if_statement", "switch_statement", "ternary_expression"}),
    handlers=frozenset({"catch_block", "guard_statement"}),
    strings=frozenset({"line_string_literal", "multi_line_string_literal", "raw_string_literal"}),
    containers=frozenset(
        {"source_file", "class_body", "protocol_body", "enum_class_body", "statements"}
    ),
    print_re=whole(r"(Swift\.)?print|debugPrint|dump|NSLog"),
    assert_re=whole(r"XCTAssert\w*|XCTFail|XCTUnwrap|#expect|#require|assert\w*|precondition"),
    named_only=True,
    close_cut=True,
)
