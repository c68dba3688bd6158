"""C++ and C#: the C family's members with classes, namespaces and their own doc and test idioms.

C++ shares C's node kinds and adds what C lacks (`using`, templates, `std::cout`, gtest's
`TEST`); C# documents with `///` XML (`<summary>`, `<param>`, `<returns>`) and marks tests with
attributes (`[Fact]`, `[Test]`, `[TestMethod]`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eduscore.scoring.features.language_spec import (
    BRANCHES,
    HANDLERS,
    LOOPS,
    PRINT,
    STRINGS,
    LanguageSpec,
    whole,
)

#: Statements a stub body is made of: nothing, or only a throw/raise/fatalError.
_STUB_TEXT_RE = re.compile(
    r"NotImplemented|BadMethodCall|not\s+(yet\s+|been\s+)?implemented|unimplemented|TODO",
    re.IGNORECASE,
)


def only_statements(body: Any, comments: frozenset[str]) -> list[Any]:
    """The statements of a function body, comments left out (Swift wraps them once more)."""
    nodes = [c for c in body.named_children if c.type not in comments]
    if len(nodes) == 1 and nodes[0].type == "statements":
        nodes = [c for c in nodes[0].named_children if c.type not in comments]
    return nodes


def only_raises(spec: LanguageSpec, node: Any) -> bool:
    """A stub: no statement at all, or one that only says "not implemented" (a throw, a
    `raise NotImplementedError`, a `fatalError("Unimplemented")`); a declaration without a
    body (an interface or abstract member) counts too, as in the first languages."""
    body = spec.body_of(node)
    if body is None:
        return True
    if body.type in ("arrow_expression_clause", "expression_statement"):
        stmts = [body]
    else:
        stmts = only_statements(body, spec.comments)
    if not stmts:
        return True
    return len(stmts) == 1 and bool(
        _STUB_TEXT_RE.search(stmts[0].text.decode("utf-8", "replace")[:200])
    )


@dataclass(frozen=True)
class CppSpec(LanguageSpec):
    """C++: C's tree plus templates, namespaces, classes, `std::cout` and gtest."""

    def doc_comment(self, w: Any, node: Any) -> str:
        # `template <typename T>` on its own line sits between a doc comment and its function.
        parent = node.parent
        if parent is not None and parent.type == "template_declaration":
            node = parent
        return super().doc_comment(w, node)

    def is_stub(self, node: Any) -> bool:
        if self.body_of(node) is None:  # `Foo() = default;` is a definition, not a stub
            return not any(
                c.type in ("default_method_clause", "delete_method_clause") for c in node.children
            )
        return super().is_stub(node)

    def extra_prints(self, w: Any) -> int:
        # `std::cout << x` is an operator, not a call: count the stream names instead.
        return w.names.get("cout", 0) + w.names.get("cerr", 0)


@dataclass(frozen=True)
class CSharpSpec(LanguageSpec):
    """C#: `///` XML docs, attribute-marked tests, `Console.WriteLine`."""

    def is_stub(self, node: Any) -> bool:
        return only_raises(self, node)


_C_COMMENTS = frozenset({"comment"})

CPP = CppSpec(
    module="tree_sitter_cpp",
    functions=frozenset({"function_definition"}),
    types=frozenset({"struct_specifier", "class_specifier", "enum_specifier", "union_specifier"}),
    comments=_C_COMMENTS,
    calls=frozenset({"call_expression"}),
    imports=frozenset({"preproc_include", "using_declaration", "import_declaration"}),
    test_name_re=re.compile(r"^(test_|Test|TEST)"),
    print_re=whole(PRINT + r"|std::print(ln)?|puts"),
    containers=frozenset(
        {"translation_unit", "declaration_list", "field_declaration_list", "compound_statement"}
    ),
    named_only=True,
    close_cut=True,
)

CSHARP = CSharpSpec(
    module="tree_sitter_c_sharp",
    functions=frozenset(
        {
            "method_declaration",
            "constructor_declaration",
            "destructor_declaration",
            "local_function_statement",
            "operator_declaration",
            "conversion_operator_declaration",
        }
    ),
    types=frozenset(
        {
            "class_declaration",
            "struct_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
            "delegate_declaration",
        }
    ),
    comments=_C_COMMENTS,
    calls=frozenset({"invocation_expression", "object_creation_expression"}),
    imports=frozenset({"using_directive"}),
    names=frozenset({"identifier"}),
    loops=LOOPS | {"foreach_statement"},
    branches=BRANCHES | {"switch_expression"},
    handlers=HANDLERS,
    strings=STRINGS
    | {"verbatim_string_literal", "interpolated_string_expression", "character_literal"},
    containers=frozenset({"compilation_unit", "declaration_list", "block"}),
    print_re=whole(r"(System\.)?Console\.(Write|WriteLine)|(Debug|Trace)\.Write(Line)?"),
    assert_re=whole(r"(Collection|String)?Assert\.\w+|Debug\.Assert|.*\.Should\(\)\.\w+"),
    test_marker_re=re.compile(r"^\s*\[\s*(Fact|Theory|Test|TestMethod|TestCase|DataTestMethod)\b"),
    named_only=True,
    close_cut=True,
    main_name="Main",
    member_re=re.compile(
        r"(public|private|protected|internal|static|override|virtual|abstract|async|sealed|"
        r"readonly|extern|unsafe)\b(?!(\s+\w+)*?\s+(class|struct|interface|enum|record)\b)"
    ),
)
