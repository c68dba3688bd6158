"""Language detection: twelve programming languages, `other` for code in none of them, `text` for
prose, C++ told from C; a caller's hint decides where the text allows it."""

from __future__ import annotations

import pytest

from eduscore.scoring import features
from eduscore.scoring.features.formats import PROGRAMMING_LANGUAGES

SNIPPETS = {
    "python": (
        "def gcd(a: int, b: int) -> int:\n    while b:\n        a, b = b, a % b\n    return a\n"
    ),
    "javascript": (
        "const express = require('express');\nconst app = express();\n\n"
        "app.get('/', function (req, res) {\n  res.send('hello');\n});\n\n"
        "module.exports = app;\n"
    ),
    "typescript": (
        "interface Point {\n  x: number;\n  y: number;\n}\n\n"
        "export function norm(p: Point): number {\n  return Math.sqrt(p.x * p.x + p.y * p.y);\n}\n"
    ),
    "go": (
        'package main\n\nimport "fmt"\n\nfunc main() {\n\tfor i := 0; i < 3; i++ {\n'
        "\t\tfmt.Println(i)\n\t}\n}\n"
    ),
    "java": (
        "public class Greeter {\n    private final String name;\n\n"
        "    public Greeter(String name) {\n        this.name = name;\n    }\n\n"
        '    public String greet() {\n        return "Hello, " + name;\n    }\n}\n'
    ),
    "rust": (
        "/// Sum of a slice.\npub fn sum(xs: &[i64]) -> i64 {\n"
        "    xs.iter().copied().sum()\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n"
        "    #[test]\n    fn sums() {\n        assert_eq!(sum(&[1, 2]), 3);\n    }\n}\n"
    ),
    "c": (
        "#include <stdio.h>\n#include <stdlib.h>\n\nint main(void) {\n    int *xs = malloc(4 *"
        " sizeof(int));\n    for (int i = 0; i < 4; i++) {\n        xs[i] = i;\n"
        '        printf("%d\\n", xs[i]);\n    }\n    free(xs);\n    return 0;\n}\n'
    ),
    "cpp": (
        "#include <iostream>\n#include <vector>\n\nnamespace demo {\ntemplate <typename T>\n"
        "T total(const std::vector<T>& xs) {\n    T sum{};\n"
        "    for (const auto& x : xs) sum += x;\n"
        "    return sum;\n}\n}  // namespace demo\n\nint main() {\n"
        "    std::cout << demo::total(std::vector<int>{1, 2, 3}) << std::endl;\n}\n"
    ),
    "csharp": (
        "using System;\nusing System.Collections.Generic;\n\nnamespace Demo\n{\n"
        "    public class Stack<T>\n    {\n        private readonly List<T> _items = new();\n\n"
        "        /// <summary>Pushes an item.</summary>\n        public void Push(T item)"
        " => _items.Add(item);\n\n        public int Count { get; private set; }\n    }\n}\n"
    ),
    "php": (
        "<?php\n\nnamespace App;\n\n/**\n * Greatest common divisor.\n */\n"
        "function gcd(int $a, int $b): int\n{\n    while ($b !== 0) {\n"
        "        [$a, $b] = [$b, $a % $b];\n    }\n    return $a;\n}\n\necho gcd(12, 18);\n"
    ),
    "ruby": (
        "require 'set'\n\n# A tiny queue.\nclass Queue\n  def initialize\n"
        "    @items = []\n  end\n\n"
        "  def push(item)\n    @items << item\n    self\n  end\n\n  def empty?\n"
        "    @items.empty?\n  end\nend\n"
    ),
    "swift": (
        "import Foundation\n\n/// A counter.\nstruct Counter {\n    private(set) var value = 0\n\n"
        "    mutating func increment(by step: Int = 1) {\n        value += step\n    }\n}\n\n"
        'let names = ["a", "b"]\nfor name in names {\n    print("\\(name)")\n}\n'
    ),
    "shell": (
        "#!/usr/bin/env bash\nset -euo pipefail\n\nfor f in *.txt; do\n"
        '  echo "processing $f"\n  wc -l "$f"\ndone\n'
    ),
}
OTHER = {
    "kotlin": (
        "fun main() {\n    val items = listOf(1, 2, 3)\n    for (i in items) {\n"
        '        println("item $i")\n    }\n}\n\ndata class User(val name: String, val age: Int)\n'
    ),
    "haskell": (
        "module Main where\n\n-- | Sum a list\nsumList :: [Int] -> Int\nsumList [] = 0\n"
        "sumList (x:xs) = x + sumList xs\n\nmain :: IO ()\nmain = print (sumList [1,2,3])\n"
    ),
    "lua": (
        "local function fib(n)\n  if n < 2 then return n end\n  return fib(n-1) + fib(n-2)\n"
        "end\n\nfor i = 1, 10 do\n  print(fib(i))\nend\n"
    ),
}
PROSE = (
    "This project is a small library for parsing dates.\n\nIt supports many formats and time"
    " zones. See the documentation for details on installation and usage.\n"
)


def detected(code: str, hint: str = "") -> str:
    return features.detected_language(features.extract(code, hint))


def test_every_programming_language_is_named_from_its_text() -> None:
    assert set(SNIPPETS) == set(PROGRAMMING_LANGUAGES)
    assert {lang: detected(code) for lang, code in SNIPPETS.items()} == {
        lang: lang for lang in SNIPPETS
    }


@pytest.mark.parametrize("name", sorted(OTHER))
def test_code_in_another_language_is_other_never_a_language_it_is_not(name: str) -> None:
    assert detected(OTHER[name]) == "other"


def test_prose_is_text() -> None:
    assert detected(PROSE) == "text"


def test_a_plausible_hint_decides_and_an_implausible_one_is_overruled() -> None:
    # TypeScript without types reads as JavaScript; the caller's file name knows better.
    untyped = "export function twice(x) {\n  return x * 2;\n}\n"
    assert detected(untyped) == "javascript"
    assert detected(untyped, "ts") == "typescript"
    # C-looking C++: the hint settles it
    assert detected(SNIPPETS["c"], "cpp") == "cpp"
    # a wrong hint does not turn YAML into Python, nor shell into Java
    yaml = "name: build\non:\n  push:\n    branches: [main]\njobs:\n  test:\n    runs-on: x\n"
    assert detected(yaml, "python") == "yaml"
    assert detected(SNIPPETS["shell"], "java") == "shell"
    # an unknown hint is ignored
    assert detected(SNIPPETS["ruby"], "cobol") == "ruby"


def test_format_of_a_whole_file_matches_what_extract_detects() -> None:
    for code in (*SNIPPETS.values(), *OTHER.values(), PROSE):
        assert features.format_of(code) == detected(code)


TAB_INDENTED = {
    "typescript": (
        "/** Adds two numbers. */\nexport function add(a: number, b: number): number {\n"
        "\treturn a + b;\n}\n"
    ),
    "swift": (
        "/// Greatest common divisor.\nfunc gcd(_ m: Int, _ n: Int) -> Int {\n\tvar a = m\n"
        "\tvar b = n\n\twhile b != 0 {\n\t\t(a, b) = (b, a % b)\n\t}\n\treturn a\n}\n"
    ),
    # YAML inside a Go raw string has "b:" over a tab-indented line, as a make rule does.
    "go": (
        'package render\n\nimport "testing"\n\nfunc TestYAML(t *testing.T) {\n'
        '\tdata := `\na : Easy!\nb:\n\tc: 2\n\td: [3, 4]\n\t`\n\tif data == "" {\n'
        "\t\tt.Fatal(data)\n\t}\n}\n"
    ),
}


@pytest.mark.parametrize("name", sorted(TAB_INDENTED))
def test_tab_indented_code_with_typed_parameters_is_not_a_makefile(name: str) -> None:
    """`name: Type` at column 0 over a tab-indented line reads like a make rule; a function or
    type block at column 0 says it is code."""
    assert features.format_of(TAB_INDENTED[name], "") == name


@pytest.mark.parametrize(
    "code",
    [
        "CC = gcc\nall: main.o util.o\n\t$(CC) -o app main.o util.o\n\n%.o: %.c\n\t$(CC) -c $<\n",
        "$(BIN): $(OBJS)\n\t$(CC) -o $@ $^\n",
        "${OUT}/%.o: src/%.c\n\t${CC} -c $< -o $@\n",
    ],
)
def test_make_rules_are_still_makefiles(code: str) -> None:
    assert features.format_of(code, "") == "makefile"
