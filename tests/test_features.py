"""Structural signals: named, finite, and never an exception, whatever the input."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eduscore.scoring import features

from .snippets import CI_YAML, GENERATED, SETTINGS, TEXTBOOK


def _check(out: dict[str, float]) -> None:
    assert tuple(out) == features.FEATURE_NAMES
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(["", "python", "yaml", "json", "nonsense"]))
def test_any_text_gives_finite_named_signals(code: str, language: str) -> None:
    _check(features.extract(code, language))


@settings(max_examples=100, deadline=None)
@given(st.binary())
def test_binary_junk_decoded_leniently(data: bytes) -> None:
    _check(features.extract(data.decode("utf-8", "replace")))


def test_pathological_inputs() -> None:
    for code in [
        "",
        "\x00" * 100,
        "(" * 5000,
        "x=" + "[" * 3000 + "]" * 3000,
        "a" * 2_000_000,
        "def f(:\n",
        "\ud800",
    ]:
        _check(features.extract(code))


def test_signals_tell_textbook_from_boilerplate() -> None:
    book, gen = features.extract(TEXTBOOK), features.extract(GENERATED)
    assert book["docstring_coverage"] == 1.0 and book["has_doctest"] == 1.0
    assert gen["generated_marker"] == 1.0
    assert features.extract(SETTINGS)["docstring_coverage"] == 0.0
    assert features.extract(CI_YAML)["is_python"] == 0.0


GLUE = '''from ._registry import _lookup
from third_party_sdk import Client


def dispatch(self, request):
    """Dispatch the request."""
    handler = _lookup(self._routes, request.path)
    return Client(self._conn).send(handler(request), timeout=DEFAULT_TIMEOUT)
'''

TUTORIAL = '''def count_words(text):
    """Count how often each word occurs, ignoring case.

    A dictionary maps every word to the number of times we have seen it so far.
    """
    counts = {}
    for word in text.lower().split():
        # get() returns 0 the first time a word appears, so no special case is needed.
        counts[word] = counts.get(word, 0) + 1
    return counts
'''


def test_signals_tell_self_contained_explained_code_from_glue() -> None:
    """The context signals: unseen names, private internals, imports, and explanation."""
    glue, tut = features.extract(GLUE), features.extract(TUTORIAL)
    # GLUE loads six names; only DEFAULT_TIMEOUT is neither defined, imported nor a builtin.
    assert glue["free_name_ratio"] == 1 / 6 and tut["free_name_ratio"] == 0.0
    assert glue["private_ref_ratio"] > tut["private_ref_ratio"] == 0.0
    assert glue["stdlib_import_ratio"] == 0.0 and glue["log_third_party_imports"] > 0.0
    assert tut["stdlib_import_ratio"] == 1.0 and tut["log_third_party_imports"] == 0.0
    # "Dispatch the request." repeats the name; the tutorial's docstring explains.
    assert glue["doc_name_overlap"] == 1 / 3 and tut["doc_name_overlap"] < glue["doc_name_overlap"]
    assert tut["explain_ratio"] > glue["explain_ratio"]
    assert tut["comment_sentence_ratio"] == 1.0 and tut["builtin_call_ratio"] == 0.0


EXPLAINED_YAML = """# Run the tests on every push, so a broken change is caught before it is merged.
name: tests
on: [push]
jobs:
  test:
    # A fresh Ubuntu machine for each run: nothing is left over from the previous one.
    runs-on: ubuntu-latest
    steps:
      # Fetch the repository's code into the machine before anything can use it.
      - uses: actions/checkout@v4
      - run: make test  # the same command a developer runs locally
"""


def test_explanation_signals_read_every_format() -> None:
    """A config file whose comments explain each step scores as explained as Python does;
    the same file without them, or with a bare label as its only comment, does not."""
    bare = "\n".join(
        ln.split("  #")[0] for ln in EXPLAINED_YAML.splitlines() if not ln.lstrip().startswith("#")
    )
    told, plain = features.extract(EXPLAINED_YAML), features.extract(bare)
    assert told["is_yaml"] == plain["is_yaml"] == 1.0
    assert plain["explain_ratio"] == 0.0 and plain["comment_sentence_ratio"] == 0.0
    assert told["explain_ratio"] > 0.3 and told["comment_sentence_ratio"] == 1.0
    assert told["log_comment_words_per_line"] > math.log1p(5)
    labelled = features.extract("# build\nall:\n\tgcc -o app main.c\n")
    assert labelled["is_makefile"] == 1.0 and labelled["comment_sentence_ratio"] == 0.0
    assert 0.0 < labelled["explain_ratio"] < told["explain_ratio"]


# Written for these tests: the same small function documented by each language's convention,
# and the same body bare. The parser must see the doc comment where the language puts it.
_DOCUMENTED = {
    "go": "package mathx\n\n// Clamp returns x limited to the range [lo, hi].\n"
    "// It is used by every example in this package.\nfunc Clamp(x, lo, hi int) int {\n"
    "\tif x < lo {\n\t\treturn lo\n\t}\n\tif x > hi {\n\t\treturn hi\n\t}\n\treturn x\n}\n",
    "rust": "/// Returns `x` limited to the range `lo..=hi`.\n///\n/// # Examples\n/// ```\n"
    "/// assert_eq!(clamp(5, 0, 3), 3);\n/// ```\npub fn clamp(x: i32, lo: i32, hi: i32) -> i32 {\n"
    "    if x < lo {\n        return lo;\n    }\n    if x > hi {\n        hi\n    } else {\n"
    "        x\n    }\n}\n",
    "java": "public final class MathX {\n    /**\n     * Returns x limited to the range [lo, hi].\n"
    "     * @param x the value to clamp\n     * @return the clamped value\n     */\n"
    "    public static int clamp(int x, int lo, int hi) {\n        if (x < lo) {\n"
    "            return lo;\n        }\n        return Math.min(x, hi);\n    }\n}\n",
    "javascript": "/**\n * Returns x limited to the range [lo, hi].\n * @param {number} x value\n"
    " * @returns {number} the clamped value\n */\nexport function clamp(x, lo, hi) {\n"
    "  if (x < lo) {\n    return lo;\n  }\n  return Math.min(x, hi);\n}\n",
    "c": "#include <stdio.h>\n\n/* Returns x limited to [lo, hi]; used by every example. */\n"
    "static int clamp(int x, int lo, int hi) {\n    if (x < lo) {\n        return lo;\n    }\n"
    '    return x > hi ? hi : x;\n}\n\nint main(void) {\n    printf("%d\\n", clamp(5, 0, 3));\n'
    "    return 0;\n}\n",
}


def _bare(code: str) -> str:
    """The same code with every comment line removed."""
    keep = [ln for ln in code.split("\n") if not ln.lstrip().startswith(("//", "/*", "*", "#"))]
    return "\n".join(keep)


@pytest.mark.parametrize("language", sorted(_DOCUMENTED))
def test_parser_reads_each_languages_doc_convention(language: str) -> None:
    """Detected without a hint, parsed cleanly, and its doc comment counted where the
    language puts it; the bare twin has the same functions and no documentation."""
    code = _DOCUMENTED[language]
    doc, bare = features.extract(code), features.extract(_bare(code))
    # Plain JavaScript is valid TypeScript: either name is right for the bare twin.
    same = {"javascript", "typescript"} if language == "javascript" else {language}
    assert features.detected_language(doc) == language
    assert features.detected_language(bare) in same
    assert doc["parse_ok"] == 1.0 and doc["syntax_error_ratio"] == 0.0
    assert doc["log_n_functions"] == bare["log_n_functions"] > 0
    assert doc["docstring_coverage"] > 0 and bare["docstring_coverage"] == 0
    assert doc["explain_ratio"] > bare["explain_ratio"]
    assert doc["curly_syntax"] == 1.0


def test_doc_sections_and_tests_are_read_outside_python() -> None:
    rust = features.extract(_DOCUMENTED["rust"])
    java = features.extract(_DOCUMENTED["java"])
    assert rust["docstring_examples"] == 1.0 and java["docstring_examples"] == 0.0
    assert java["docstring_params"] == 1.0 and java["docstring_returns"] == 1.0
    c = features.extract(_DOCUMENTED["c"])
    assert c["has_main_guard"] == 1.0 and c["print_calls"] > 0
    go_test = (
        'package mathx\n\nimport "testing"\n\nfunc TestClamp(t *testing.T) {\n'
        '\tif Clamp(5, 0, 3) != 3 {\n\t\tt.Errorf("want 3")\n\t}\n}\n'
    )
    g = features.extract(go_test)
    assert g["is_go"] == 1.0 and g["test_function_ratio"] == 1.0 and g["assert_density"] > 0


def test_broken_code_is_a_signal_not_a_crash() -> None:
    """Half a Go function still parses partly: the error share rises, nothing raises."""
    code = _DOCUMENTED["go"]
    half = code[: code.index("if x > hi")]
    whole, broken = features.extract(code), features.extract(half, "go")
    assert broken["is_go"] == 1.0 or features.detected_language(broken) == "go"
    assert whole["syntax_error_ratio"] == 0.0 and broken["parse_partial"] == 1.0


def test_each_parser_reads_a_snippet_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's parser runs once for Python and not at all for JSON; tree-sitter once for Go
    (format detection and the signals share one parse)."""
    import ast

    from eduscore.scoring.features import syntax_walk

    calls: Counter[str] = Counter()
    real_ast_parse, real_parser = ast.parse, syntax_walk.parser

    def ast_parse(*args: Any, **kwargs: Any) -> ast.Module:
        calls["ast"] += 1
        return real_ast_parse(*args, **kwargs)

    class _Counting:
        def __init__(self, parser: Any) -> None:
            self._parser = parser

        def parse(self, src: bytes) -> Any:
            calls["tree-sitter"] += 1
            return self._parser.parse(src)

    monkeypatch.setattr(ast, "parse", ast_parse)
    monkeypatch.setattr(syntax_walk, "parser", lambda grammar: _Counting(real_parser(grammar)))
    features.extract(TUTORIAL)
    assert calls == {"ast": 1}
    calls.clear()
    features.extract('{"name": "demo", "tags": [1, 2]}')
    assert calls == {}
    calls.clear()
    features.extract(_DOCUMENTED["go"])  # Python is tried first (and its prefixes) and fails
    assert calls["tree-sitter"] == 1


def test_c_opening_with_directives_is_not_read_as_python() -> None:
    """Python's parser reads "#include <...>" as a comment and a declaration like
    `uv_loop_t *loop;` as an expression: the directive decides before it is asked."""
    c_file = (
        "#include <stdio.h>\n#include <uv.h>\n\nuv_loop_t *loop;\nuv_process_t child_req;\n\n"
        'int main() {\n    loop = uv_default_loop();\n    printf("%d\\n", 1);\n    return 0;\n}\n'
    )
    assert features.detected_language(features.extract(c_file)) == "c"
    quoted = (  # Python that quotes C source after its imports stays Python
        'import cffi\n\nSOURCE = """\n#include <math.h>\ndouble half(double x) { return x / 2; }\n'
        '"""\n\n\ndef build():\n    """Compile the helper."""\n'
        "    return cffi.FFI().verify(SOURCE)\n"
    )
    assert features.detected_language(features.extract(quoted)) == "python"
    prose = "# define an alias for the python version\nFROM python:3.11\nRUN pip install x\n"
    assert features.detected_language(features.extract(prose)) == "dockerfile"
