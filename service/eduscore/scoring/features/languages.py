"""Per-language knowledge for the tree-sitter signals: which nodes are functions, types,
comments, calls and imports, and how each language documents a declaration.

One small interface (`LanguageSpec`) and one instance per grammar; `syntax.py` walks any of
them the same way. The defaults suit the C-like languages; a language overrides what differs.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from eduscore.scoring.features.formats import LICENSE_RE, has_marker

#: Nodes whose children are separate declarations: a doc comment is a sibling inside them.
_CONTAINERS = frozenset(
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
_STUB_RE = re.compile(r"todo!|unimplemented!|NotImplemented|not implemented|UnsupportedOperation")


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

    def load(self) -> Any:
        return getattr(importlib.import_module(self.module), self.entry)()

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
        return "@Test" in head or (
            prev is not None and prev.type == "attribute_item" and "test" in w.text(prev)
        )

    def is_stub(self, node: Any) -> bool:
        body = self.body_of(node)
        if body is None:
            return True
        return body.named_child_count == 0 or bool(
            _STUB_RE.search(body.text.decode(errors="replace")[:300])
        )

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
            and anchor.parent.type not in _CONTAINERS
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
            if raw.startswith("#!") or has_marker(LICENSE_RE, raw):
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


_C_LIKE_COMMENTS = frozenset({"comment"})
_JS = dict(
    functions=frozenset(
        {
            "function_declaration",
            "generator_function_declaration",
            "method_definition",
            "arrow_function",
            "function_expression",
            "function",
        }
    ),
    types=frozenset(
        {
            "class_declaration",
            "class",
            "abstract_class_declaration",
            "interface_declaration",
            "type_alias_declaration",
            "enum_declaration",
        }
    ),
    comments=_C_LIKE_COMMENTS,
    calls=frozenset({"call_expression", "new_expression"}),
    imports=frozenset({"import_statement"}),
)
_C = dict(
    functions=frozenset({"function_definition"}),
    types=frozenset({"struct_specifier", "class_specifier", "enum_specifier", "union_specifier"}),
    comments=_C_LIKE_COMMENTS,
    calls=frozenset({"call_expression"}),
    imports=frozenset({"preproc_include"}),
    test_name_re=re.compile(r"^(test_|Test)"),
)

LANGUAGES: dict[str, LanguageSpec] = {
    "go": LanguageSpec(
        module="tree_sitter_go",
        functions=frozenset({"function_declaration", "method_declaration", "func_literal"}),
        types=frozenset({"type_declaration"}),
        comments=_C_LIKE_COMMENTS,
        calls=frozenset({"call_expression"}),
        imports=frozenset({"import_spec"}),
        error_re=re.compile(r"\berr\s*!=\s*nil\b"),
    ),
    "rust": LanguageSpec(
        module="tree_sitter_rust",
        functions=frozenset({"function_item"}),
        types=frozenset(
            {"struct_item", "enum_item", "trait_item", "impl_item", "type_item", "union_item"}
        ),
        comments=frozenset({"line_comment", "block_comment"}),
        calls=frozenset({"call_expression", "macro_invocation"}),
        imports=frozenset({"use_declaration", "extern_crate_declaration"}),
    ),
    "java": LanguageSpec(
        module="tree_sitter_java",
        functions=frozenset({"method_declaration", "constructor_declaration"}),
        types=frozenset(
            {
                "class_declaration",
                "interface_declaration",
                "enum_declaration",
                "record_declaration",
                "annotation_type_declaration",
            }
        ),
        comments=frozenset({"line_comment", "block_comment"}),
        calls=frozenset({"method_invocation", "object_creation_expression"}),
        imports=frozenset({"import_declaration"}),
    ),
    "javascript": LanguageSpec(module="tree_sitter_javascript", **_JS),  # type: ignore[arg-type]
    "typescript": LanguageSpec(
        module="tree_sitter_typescript",
        entry="language_typescript",
        **_JS,  # type: ignore[arg-type]
    ),
    "c": LanguageSpec(module="tree_sitter_c", **_C),  # type: ignore[arg-type]
    "cpp": LanguageSpec(module="tree_sitter_cpp", **_C),  # type: ignore[arg-type]
    "shell": LanguageSpec(
        module="tree_sitter_bash",
        functions=frozenset({"function_definition"}),
        types=frozenset(),
        comments=_C_LIKE_COMMENTS,
        calls=frozenset({"command"}),
        imports=frozenset(),
        error_re=re.compile(r"(^\s*set -\w*e|\|\|\s*(exit|return|die)\b|\btrap\b)", re.MULTILINE),
    ),
}
