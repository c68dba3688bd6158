"""The Python signals measure as on CPython 3.11 whatever Python runs them.

Runs in the suite (3.11) and, by tests/test_python_versions.py, inside the 3.13 and 3.14 roots
(with `--noconftest`: nothing here needs more than `eduscore[fast]`). On 3.11 the stand-ins are
also compared with what they stand in for.
"""

from __future__ import annotations

import ast
import builtins
import sys
import tokenize
import warnings

import pytest

from eduscore.scoring import features
from eduscore.scoring.features import python_tokens
from eduscore.scoring.features.python_ast import dump_311, parse_311, parse_python
from eduscore.scoring.features.python_fstrings import accepted_by_311
from eduscore.scoring.features.python_names import BUILTINS, STDLIB_MODULES

ON_311 = sys.version_info[:2] == (3, 11)

#: Syntax that later Pythons parse and 3.11 refuses (PEP 695, 701, 758, 750).
REFUSED_BY_311 = {
    "type parameters": "class Stack[T]:\n    items: list[T]\n",
    "generic function": "def first[T](xs: list[T]) -> T:\n    return xs[0]\n",
    "type alias": "type Vector = list[float]\n",
    "nested quotes": 'def greet(user):\n    return f"Hello {user["name"]}"\n',
    "backslash in field": "def lines(xs):\n    return f\"{'\\n'.join(xs)}\"\n",
    "comment in field": 'def total(a, b):\n    return f"""{a +  # the first\n        b}"""\n',
    "field over lines": 'def total(a, b):\n    return f"{a +\n        b}"\n',
    "format spec three deep": "def show(x, w, p):\n    return f'{x:{w:{p}}}'\n",
    "same quotes three deep": 'def show(x):\n    return f"{f"{f"{x}"}"}"\n',
    "unparenthesized except": "try:\n    run()\nexcept ValueError, TypeError:\n    pass\n",
    "template string": 'def page(name):\n    return t"<p>{name}</p>"\n',
}

#: f-strings 3.11 parses, which the check must let through.
ACCEPTED_BY_311 = [
    'f"{x!r:>{width}} {x=} {y = !s:^10}"',
    "f\"{d['key']} {f'{inner}'} {'}'}\"",
    'f"{{literal}} {{{x}}}"',
    'rf"\\d{n}\\b" F"\\N{BULLET} {x}" fR"{a}\\{b}"',
    "f'''{a\n+ b} and {c:\n>4}'''",
    'f"{a if b else c} {x!=y} {x<=y} {x >= y} {(lambda: 1)()}"',
    '(f"{a}"  # a comment between the parts\n "plain" f"{b}")',
    "f'{x:{w}.{p}}' f\"{'a' 'b'}\"",
    "f'''{\"nested\"}'''",
    'b"bytes" + u"text" + f"{\'}\'}"',
]


@pytest.mark.parametrize("name", sorted(REFUSED_BY_311))
def test_syntax_311_refuses_is_refused_on_every_python(name: str) -> None:
    code = REFUSED_BY_311[name]
    with pytest.raises(SyntaxError):
        parse_311(code)
    assert not parse_python(code)[1]  # a prefix or nothing, as 3.11 reads it
    assert features.extract(code)["parse_ok"] == 0.0


@pytest.mark.parametrize("code", ACCEPTED_BY_311)
def test_fstrings_311_accepts_still_parse(code: str) -> None:
    assert accepted_by_311(code)
    assert isinstance(parse_311(code), ast.Module)
    if ON_311:
        ast.parse(code)  # the list is of what 3.11 parses


def test_invalid_escapes_neither_warn_nor_fail_even_with_warnings_as_errors() -> None:
    code = "import re\nDIGITS = re.compile('\\d+')\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 3.12+ warns (SyntaxWarning), 3.11 too (Deprecation)
        assert isinstance(parse_311(code), ast.Module)
        assert features.extract(code)["parse_ok"] == 1.0


def test_dump_is_311s_whatever_python() -> None:
    raise_ = ast.parse("raise NotImplementedError('todo')").body[0]
    expected = (
        "Raise(exc=Call(func=Name(id='NotImplementedError', ctx=Load()),"
        " args=[Constant(value='todo')], keywords=[]))"
    )
    assert dump_311(raise_) == expected
    assert dump_311(ast.parse("raise").body[0]) == "Raise()"
    if ON_311:
        for code in ("def f(a, *b, c=1, **d):\n    return [x async for x in y]\n", "x: int = 1"):
            tree = ast.parse(code)
            assert dump_311(tree) == ast.dump(tree)


def test_a_long_raise_is_no_stub_on_any_python() -> None:
    # 3.13's ast.dump drops the empty `keywords=[]`: "NotImplemented" then falls within the
    # 200 characters the stub test reads, where 3.11's dump puts it past them.
    code = "def f():\n    raise a(b(), c()) from NotImplementedError()\n"
    assert features.extract(code)["stub_ratio"] == 0.0


def test_names_are_311s() -> None:
    assert {"distutils", "imp", "asyncore", "cgi"} <= STDLIB_MODULES  # gone from 3.12/3.13
    assert "PythonFinalizationError" not in BUILTINS  # new in 3.13
    if ON_311:
        assert frozenset(sys.stdlib_module_names) == STDLIB_MODULES
        assert frozenset(dir(builtins)) == BUILTINS
    code = "import distutils\nimport os\n\ndef f():\n    raise PythonFinalizationError(os.sep)\n"
    signals = features.extract(code)
    assert signals["stdlib_import_ratio"] == 1.0
    assert signals["free_name_ratio"] == 0.5  # os is bound; the 3.13 builtin is not one here


def test_tokens_are_311s() -> None:
    # 3.14 reads t"..." as one string and 3.12 "!" as an operator; 3.11 reads a name, a string,
    # and an error character that counts no token.
    scanned = python_tokens.scan("page = t'<p>'\nok = not !x\n")
    assert (scanned.code_tokens, scanned.str_chars) == (7, 5)
    if ON_311:
        # the same regexes, but for the order of the string prefixes (a set's, in tokenize)
        prefixes = tokenize.group(*sorted(tokenize._all_string_prefixes()))
        pseudo = tokenize.PseudoToken.replace(tokenize.StringPrefix, prefixes)
        assert (pseudo, tokenize.endpats) == (python_tokens.PSEUDO_TOKEN, python_tokens.ENDPATS)
