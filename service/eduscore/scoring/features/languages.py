"""The registry of tree-sitter languages: format name -> `LanguageSpec` (how to read its tree).

The languages first covered (Go, Rust, Java, JS/TS, C, shell) are here; the C family's later
members (C++, C#) and PHP, Ruby and Swift have modules of their own beside this one.
"""

from __future__ import annotations

import re

from eduscore.scoring.features.language_spec import LanguageSpec, comment_text
from eduscore.scoring.features.languages_c_family import CPP, CSHARP
from eduscore.scoring.features.languages_php_ruby_swift import PHP, PHP_TAGGED, RUBY, SWIFT

__all__ = ["LANGUAGES", "LanguageSpec", "comment_text"]

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
    "cpp": CPP,
    "csharp": CSHARP,
    "php": PHP,
    "php_tagged": PHP_TAGGED,  # PHP with `<?php` tags and HTML around (see PhpSpec.grammar)
    "ruby": RUBY,
    "swift": SWIFT,
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
