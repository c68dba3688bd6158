"""Tree-sitter signals for C#, PHP, Ruby, Swift and C++: each signal read by the language's own
convention (doc comments, tests, stubs, prints, imports), and the first languages unchanged.

Snippets are written for these tests. The language is given as a hint: detection is tested
elsewhere, the signals here.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eduscore.scoring import features

# The same function documented by each language's convention (with its parameter and return
# tags), then a second function with no documentation at all.
_DOCUMENTED = {
    "csharp": """using System;

public static class MathX
{
    /// <summary>Returns x limited to the range [lo, hi].</summary>
    /// <param name="x">The value to clamp.</param>
    /// <returns>The clamped value.</returns>
    /// <example><code>MathX.Clamp(5, 0, 3) // 3</code></example>
    public static int Clamp(int x, int lo, int hi)
    {
        if (x < lo) { return lo; }
        return Math.Min(x, hi);
    }
}
""",
    "php": """<?php
namespace App;

use InvalidArgumentException;

/**
 * Returns x limited to the range [lo, hi].
 *
 * @param int $x the value to clamp
 * @return int the clamped value
 * @example clamp(5, 0, 3) // 3
 */
function clamp(int $x, int $lo, int $hi): int
{
    if ($x < $lo) {
        return $lo;
    }
    return min($x, $hi);
}
""",
    "ruby": """require 'set'

# Returns x limited to the range lo..hi.
#
# @param x [Integer] the value to clamp
# @return [Integer] the clamped value
# @example
#   clamp(5, 0, 3) #=> 3
def clamp(x, lo, hi)
  return lo if x < lo
  [x, hi].min
end
""",
    "swift": """import Foundation

/// Returns x limited to the range lo...hi.
///
/// - Parameters:
///   - x: The value to clamp.
///   - lo: The lower bound.
/// - Returns: The clamped value.
public func clamp(_ x: Int, _ lo: Int, _ hi: Int) -> Int {
    if x < lo {
        return lo
    }
    return min(x, hi)
}
""",
    "cpp": """#include <algorithm>

namespace mathx {

/// Returns x limited to the range [lo, hi].
/// \\param x the value to clamp
/// \\return the clamped value
template <typename T>
T clamp(T x, T lo, T hi) {
    if (x < lo) {
        return lo;
    }
    return std::min(x, hi);
}

}  // namespace mathx
""",
}
_UNDOCUMENTED = {
    "csharp": "public static class Calc\n{\n    public static int Twice(int x)\n    {\n"
    "        return 2 * x;\n    }\n}\n",
    "php": "<?php\nfunction twice(int $x): int\n{\n    return 2 * $x;\n}\n",
    "ruby": "def twice(x)\n  2 * x\nend\n",
    "swift": "func twice(_ x: Int) -> Int {\n    return 2 * x\n}\n",
    "cpp": "int twice(int x) {\n    return 2 * x;\n}\n",
}
NEW = sorted(_DOCUMENTED)


@pytest.mark.parametrize("language", NEW)
def test_doc_comment_by_each_languages_convention(language: str) -> None:
    """The doc comment is found where the language puts it, with its parameter and return
    sections; the undocumented function has none."""
    doc = features.extract(_DOCUMENTED[language], language)
    bare = features.extract(_UNDOCUMENTED[language], language)
    assert doc[f"is_{language}"] == bare[f"is_{language}"] == 1.0
    assert doc["parse_ok"] == bare["parse_ok"] == 1.0 and doc["syntax_error_ratio"] == 0.0
    assert doc["log_n_functions"] == bare["log_n_functions"] == math.log1p(1)
    assert doc["docstring_params"] == doc["docstring_returns"] == 1.0
    assert bare["docstring_params"] == bare["docstring_returns"] == 0.0
    assert bare["docstring_coverage"] == 0.0 and bare["log_mean_docstring_words"] == 0.0
    # C# and C++ wrap the function in a class or namespace; the class has no doc of its own.
    types = int(language == "csharp")
    assert doc["docstring_coverage"] == 1.0 / (1 + types)
    assert doc["log_n_classes"] == math.log1p(types)
    assert doc["log_third_party_imports"] == math.log1p(1)  # using/use/require/import/#include


def test_examples_in_docs() -> None:
    for language in ("csharp", "php", "ruby"):  # <example>, @example
        assert features.extract(_DOCUMENTED[language], language)["docstring_examples"] == 1.0
    swift = _DOCUMENTED["swift"].replace(
        "/// - Returns", "/// - Example: `clamp(5, 0, 3)`\n/// - Returns"
    )
    assert features.extract(swift, "swift")["docstring_examples"] == 1.0
    assert features.extract(_DOCUMENTED["swift"], "swift")["docstring_examples"] == 0.0


def test_only_a_comment_right_above_documents() -> None:
    """As in the first languages, any comment right above a declaration documents it (`//`
    notes above methods are how many C# and Swift tutorials explain); one a blank line away
    does not."""
    cs = "class A\n{\n    // Doubles the given value for callers.\n    int Twice(int x) => 2 * x;\n"
    cs += "}\n"
    swift = "// Doubles the given value for callers.\nfunc twice(_ x: Int) -> Int { 2 * x }\n"
    rb = "# Doubles the given value for callers.\ndef twice(x)\n  2 * x\nend\n"
    for code, lang in ((cs, "csharp"), (swift, "swift"), (rb, "ruby")):
        near = features.extract(code, lang)
        far = features.extract(code.replace("callers.\n", "callers.\n\n"), lang)
        assert near["docstring_coverage"] > 0 and far["docstring_coverage"] == 0.0, lang


_TESTS = {
    "csharp": "using Xunit;\n\npublic class CalcTests\n{\n    [Fact]\n    public void Twice()\n"
    "    {\n        Assert.Equal(4, Calc.Twice(2));\n    }\n\n    [Theory]\n"
    "    [InlineData(1, 2)]\n    public void TwiceAll(int x, int y)\n    {\n"
    "        Assert.Equal(y, Calc.Twice(x));\n    }\n}\n",
    "php": "<?php\nuse PHPUnit\\Framework\\TestCase;\n\nfinal class CalcTest extends TestCase\n{\n"
    "    public function testTwice(): void\n    {\n        $this->assertSame(4, twice(2));\n"
    "    }\n\n    /** @test */\n    public function itDoublesZero(): void\n    {\n"
    "        self::assertSame(0, twice(0));\n    }\n}\n",
    "ruby": "require 'minitest/autorun'\n\nclass CalcTest < Minitest::Test\n  def test_twice\n"
    "    assert_equal 4, twice(2)\n  end\nend\n",
    "swift": "import XCTest\n\nfinal class CalcTests: XCTestCase {\n    func testTwice() {\n"
    "        XCTAssertEqual(twice(2), 4)\n    }\n}\n\n@Test func doublesZero() {\n"
    "    #expect(twice(0) == 0)\n}\n",
    "cpp": "#include <gtest/gtest.h>\n\nTEST(Calc, Twice) {\n    EXPECT_EQ(twice(2), 4);\n}\n\n"
    "TEST_F(CalcFixture, Zero) {\n    ASSERT_EQ(twice(0), 0);\n}\n",
}


@pytest.mark.parametrize("language", NEW)
def test_tests_are_read_by_each_languages_idiom(language: str) -> None:
    """[Fact]/[Theory], test* and @test, test_, XCTest and @Test, gtest's TEST: every function
    is a test and asserts; the plain function is none."""
    test = features.extract(_TESTS[language], language)
    plain = features.extract(_UNDOCUMENTED[language], language)
    assert test["parse_ok"] == 1.0
    assert test["test_function_ratio"] == 1.0 and test["assert_density"] > 0
    assert plain["test_function_ratio"] == 0.0 and plain["assert_density"] == 0.0


def test_rspec_blocks_are_tests() -> None:
    spec = (
        "require 'calc'\n\nRSpec.describe Calc do\n  context 'with two' do\n"
        "    it 'doubles' do\n      expect(Calc.twice(2)).to eq(4)\n    end\n  end\nend\n"
    )
    out = features.extract(spec, "ruby")
    assert out["test_function_ratio"] == 1.0 and out["assert_density"] > 0
    assert out["curly_syntax"] == 0.0 and out["parse_ok"] == 1.0


_STUBS = {
    "csharp": "class Repo\n{\n    public int Count() => throw new NotImplementedException();\n"
    "    public void Save(int x)\n    {\n        throw new NotImplementedException();\n    }\n}\n",
    "php": "<?php\nclass Repo\n{\n    public function count(): int\n    {\n"
    "        throw new \\Exception('Not implemented');\n    }\n\n    public function save($x)\n"
    "    {\n        throw new \\BadMethodCallException();\n    }\n}\n",
    "ruby": "class Repo\n  def count\n    raise NotImplementedError\n  end\n\n  def save(x)\n"
    '    raise NotImplementedError, "#{self.class} must implement save"\n  end\nend\n',
    "swift": 'class Repo {\n    func count() -> Int {\n        fatalError("not implemented")\n'
    '    }\n\n    func save(_ x: Int) {\n        fatalError("Unimplemented")\n    }\n}\n',
    "cpp": "class Repo {\npublic:\n    int count() {\n"
    '        throw std::logic_error("not implemented");\n    }\n};\n',
}


@pytest.mark.parametrize("language", NEW)
def test_stubs_that_only_say_not_implemented(language: str) -> None:
    stubs = features.extract(_STUBS[language], language)
    assert stubs["stub_ratio"] == 1.0 and stubs["log_n_functions"] > 0
    assert features.extract(_UNDOCUMENTED[language], language)["stub_ratio"] == 0.0
    # A real body that throws on bad input is no stub.
    if language == "csharp":
        guard = (
            "class A\n{\n    int Twice(int x)\n    {\n"
            '        if (x < 0) throw new ArgumentException("x < 0");\n        return 2 * x;\n'
            "    }\n}\n"
        )
        assert features.extract(guard, "csharp")["stub_ratio"] == 0.0


_PROGRAMS = {
    "csharp": "using System;\n\nclass Program\n{\n    static void Main()\n    {\n"
    "        foreach (var n in new[] { 1, 2 })\n        {\n"
    "            try { Console.WriteLine(n); }\n"
    "            catch (IOException e) { Console.Error.WriteLine(e); }\n        }\n    }\n}\n",
    "php": "<?php\nrequire_once 'lib.php';\n\nforeach ([1, 2] as $n) {\n    try {\n"
    '        echo $n, "\\n";\n    } catch (Exception $e) {\n        print($e->getMessage());\n'
    "    }\n}\n",
    "ruby": "require_relative 'lib'\n\n[1, 2].each do |n|\n  begin\n    puts n\n"
    "  rescue IOError => e\n    warn e.message\n  end\nend\n",
    "swift": "import Foundation\n\nfor n in [1, 2] {\n    do {\n        try check(n)\n"
    '        print(n)\n    } catch {\n        print("failed")\n    }\n}\n',
    "cpp": "#include <iostream>\n\nint main() {\n    for (int n : {1, 2}) {\n        try {\n"
    '            std::cout << n << "\\n";\n        } catch (const std::exception& e) {\n'
    "            std::cerr << e.what();\n        }\n    }\n    return 0;\n}\n",
}


@pytest.mark.parametrize("language", NEW)
def test_loops_prints_imports_and_handlers(language: str) -> None:
    out = features.extract(_PROGRAMS[language], language)
    assert out["parse_ok"] == 1.0
    assert out["loop_density"] > 0 and out["print_calls"] > 0
    assert out["import_ratio"] > 0 and out["exception_handling"] > 0
    assert out["log_distinct_names"] > math.log1p(2)  # names are read in every grammar


def test_recursion_nesting_and_main() -> None:
    cs = (
        "class M\n{\n    static int Fib(int n)\n    {\n        if (n < 2) { return n; }\n"
        "        return Fib(n - 1) + Fib(n - 2);\n    }\n\n    static void Main() { }\n}\n"
    )
    rb = (
        "def fib(n)\n  n < 2 ? n : fib(n - 1) + fib(n - 2)\nend\n\nputs fib(10) if __FILE__ == $0\n"
    )
    for code, lang in ((cs, "csharp"), (rb, "ruby")):
        out = features.extract(code, lang)
        assert out["has_recursion"] == 1.0 and out["has_main_guard"] == 1.0
        assert out["max_nesting_depth"] >= 2 and out["branch_density"] > 0


def test_methods_cut_out_of_their_class_parse() -> None:
    """Most C# and PHP units are one method without its class (or a file's head without its
    closing braces): both still parse, and a cut file is partial, not clean."""
    php = (
        "/**\n * Twice the value.\n * @param int $x value\n */\n"
        "public function twice(int $x): int\n{\n    return 2 * $x;\n}\n"
    )
    cs = "/// <summary>Twice the value.</summary>\npublic int Twice(int x)\n{\n    return 2 * x;\n"
    cs += "}\n"
    for code, lang in ((php, "php"), (cs, "csharp")):
        out = features.extract(code, lang)
        assert out["parse_ok"] == 1.0 and out["docstring_coverage"] == 1.0
        assert out["log_n_functions"] == math.log1p(1) and out["log_n_classes"] == 0.0
    head = _TESTS["csharp"][: _TESTS["csharp"].index("[Theory]")]  # the class left open
    cut = features.extract(head, "csharp")
    assert cut["parse_partial"] == 1.0 and cut["log_n_classes"] == math.log1p(1)
    assert cut["test_function_ratio"] == 1.0
    ruby_head = "module Shapes\n  # A circle of a given radius.\n  class Circle\n    def area\n"
    ruby_head += "      3.14159 * @r * @r\n    end\n"  # the class and module left open
    cut = features.extract(ruby_head, "ruby")
    assert cut["parse_partial"] == 1.0 and cut["log_n_classes"] == math.log1p(2)
    assert cut["log_n_functions"] == math.log1p(1) and cut["docstring_coverage"] == 1 / 3


def test_php_with_html_around() -> None:
    page = "<html><body>\n<?php\n/** Greets the visitor by name. */\nfunction greet($n) {\n"
    page += '    echo "Hello, $n";\n}\n?>\n</body></html>\n'
    out = features.extract(page, "php")
    assert out["parse_ok"] == 1.0 and out["docstring_coverage"] == 1.0 and out["print_calls"] > 0


def test_generated_csharp_is_marked() -> None:
    designer = (
        "//------------------------------------------------------------------------------\n"
        "// <auto-generated>\n//     This code was generated by a tool.\n"
        "// </auto-generated>\n"
        "//------------------------------------------------------------------------------\n"
        "namespace App.Properties {\n    internal sealed partial class Settings {\n    }\n}\n"
    )
    assert features.extract(designer, "csharp")["generated_marker"] == 1.0


@settings(max_examples=150, deadline=None)
@given(st.text(), st.sampled_from([*NEW, "php"]))
def test_garbage_never_raises(code: str, language: str) -> None:
    out = features.extract(code, language)
    assert tuple(out) == features.FEATURE_NAMES
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())


@pytest.mark.parametrize("language", NEW)
def test_cut_and_broken_code(language: str) -> None:
    for code in (
        _DOCUMENTED[language][:-40],
        "public function (",
        "<?php class {",
        "def end end",
        "\ufeff" + _UNDOCUMENTED[language],
        "}" * 50 + "{" * 50,
    ):
        out = features.extract(code, language)
        assert 0.0 <= out["syntax_error_ratio"] <= 1.0 and out["parse_ok"] in (0.0, 1.0)


# The first languages keep their signals: one snippet each, with what it has pinned (counts of
# functions, types, prints and third-party imports; the rest as the signal reads).
_FIRST = {
    "python": '''import os


def area(r):
    """Area of a circle of radius r.

    Args:
        r: the radius
    Returns:
        the area
    """
    return 3.14159 * r * r


def test_area():
    assert area(1) > 3


if __name__ == "__main__":
    print(area(2))
''',
    "javascript": """// Sum of a list.
function sum(xs) {
  let t = 0;
  for (const x of xs) {
    t += x;
  }
  return t;
}

describe("sum", () => {
  it("adds", () => {
    expect(sum([1, 2])).toBe(3);
  });
});
console.log(sum([1]));
""",
    "typescript": """import { readFile } from "fs";

/** A point in the plane. */
interface Point {
  x: number;
  y: number;
}

export function norm(p: Point): number {
  return Math.sqrt(p.x * p.x + p.y * p.y);
}
""",
    "go": """package main

import "fmt"

// Fact returns n factorial.
func Fact(n int) int {
\tif n < 2 {
\t\treturn 1
\t}
\treturn n * Fact(n-1)
}

func main() {
\tfmt.Println(Fact(5))
}
""",
    "java": """import java.util.List;

public class Stack {
    /** Pushes x. */
    public void push(int x) {
        throw new UnsupportedOperationException();
    }

    @Test
    public void pushes() {
        assertEquals(1, 1);
    }
}
""",
    "rust": """use std::fmt;

/// A counter that only goes up.
pub struct Counter {
    n: u32,
}

impl Counter {
    /// Adds one.
    pub fn tick(&mut self) {
        self.n += 1;
    }
}

#[test]
fn ticks() {
    let mut c = Counter { n: 0 };
    c.tick();
    assert_eq!(c.n, 1);
}
""",
    "c": """#include <stdio.h>

/* Greatest common divisor of a and b. */
int gcd(int a, int b) {
    while (b != 0) {
        int t = b;
        b = a % b;
        a = t;
    }
    return a;
}

int main(void) {
    printf("%d\\n", gcd(12, 18));
    return 0;
}
""",
    "shell": """#!/bin/bash
set -euo pipefail

# Print each argument on its own line.
show() {
  for a in "$@"; do
    echo "$a"
  done
}

show "$@" || exit 1
""",
    "yaml": """# The service and its port.
name: web
port: 8080
replicas: 2
""",
}
_PINNED_NAMES = (
    "functions",
    "types",
    "doc",
    "params",
    "tests",
    "stubs",
    "prints",
    "imports",
    "recursion",
    "main",
)
_PINNED = {
    # functions, types, docstring_coverage, docstring_params, test_function_ratio,
    # stub_ratio, prints, imports, has_recursion, has_main_guard
    "python": (2, 0, 0.5, 1, 0.5, 0, 1, 0, 0, 1),  # `import os` is stdlib: no third party
    "javascript": (1, 0, 1, 0, 1, 0, 1, 0, 0, 0),  # describe/it callbacks: tests, not functions
    "typescript": (1, 1, 0.5, 0, 0, 0, 0, 1, 0, 0),
    "go": (2, 0, 0.5, 0, 0, 0, 1, 1, 1, 1),
    "java": (2, 1, 0, 0, 0.5, 0.5, 0, 1, 0, 0),  # "Pushes x." is under three words: no doc
    "rust": (2, 2, 0.25, 0, 0.5, 0, 0, 1, 0, 0),  # "Adds one." likewise
    "c": (2, 0, 0.5, 0, 0, 0, 1, 1, 0, 1),
    "shell": (1, 0, 1, 0, 0, 0, 1, 0, 0, 0),
    "yaml": (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
}


@pytest.mark.parametrize("language", sorted(_FIRST))
def test_first_languages_keep_their_signals(language: str) -> None:
    out = features.extract(_FIRST[language], language)
    counts = {k: round(math.expm1(out[k])) for k in _COUNTED}
    got = (
        counts["log_n_functions"],
        counts["log_n_classes"],
        out["docstring_coverage"],
        out["docstring_params"],
        out["test_function_ratio"],
        out["stub_ratio"],
        counts["print_calls"],
        counts["log_third_party_imports"],
        out["has_recursion"],
        out["has_main_guard"],
    )
    assert dict(zip(_PINNED_NAMES, got, strict=True)) == dict(
        zip(_PINNED_NAMES, _PINNED[language], strict=True)
    )
    assert out["parse_ok"] == float(language != "yaml") and out[f"is_{language}"] == 1.0


_COUNTED = ("log_n_functions", "log_n_classes", "print_calls", "log_third_party_imports")
