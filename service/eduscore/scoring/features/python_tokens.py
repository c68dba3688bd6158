"""Comment, string, number and code-token counts of Python source, by `tokenize`'s own rules.

The signals were defined on `tokenize.generate_tokens`, stopped at its first error. This is that
tokenizer's loop (CPython 3.11 `tokenize._tokenize`, same regexes, same state machine) counting
as it goes instead of building a `TokenInfo` per token, which was most of its cost; where
`tokenize` raises, the scan stops with what it has counted, as the signals always did.
The regexes are 3.11's, built here as `tokenize` builds them rather than read from it: 3.12 added
`!` to its operators and 3.14 the t-string prefixes, which would count one snippet differently.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field


def _group(*choices: str) -> str:
    return "(" + "|".join(choices) + ")"


def _string_prefixes() -> list[str]:
    """3.11's string prefixes, "" included, in every order and case (`tokenize`'s own rule)."""
    out = {""}
    for prefix in ("b", "r", "u", "f", "br", "fr"):
        for chars in itertools.permutations(prefix):
            out.update("".join(u) for u in itertools.product(*[(c, c.upper()) for c in chars]))
    return sorted(out)  # at most one alternative matches before the quote: the order is moot


#: 3.11's `token.EXACT_TOKEN_TYPES`, the operators (3.12 added "!").
_OPERATORS_311 = "!= % %= & &= ( ) * ** **= *= + += , - -= -> . ... / // //= /= : := ; < << <<="
_OPERATORS_311 += " <= = == > >= >> >>= @ @= [ ] ^ ^= { | |= } ~"
_OPERATORS = _OPERATORS_311.split()
_PREFIX = _group(*_string_prefixes())
_POINTFLOAT = _group(r"[0-9](?:_?[0-9])*\.(?:[0-9](?:_?[0-9])*)?", r"\.[0-9](?:_?[0-9])*")
_EXPONENT = r"[eE][-+]?[0-9](?:_?[0-9])*"
_FLOAT = _group(_POINTFLOAT + _group(_EXPONENT) + "?", r"[0-9](?:_?[0-9])*" + _EXPONENT)
_INT = _group(
    r"0[xX](?:_?[0-9a-fA-F])+",
    r"0[bB](?:_?[01])+",
    r"0[oO](?:_?[0-7])+",
    r"(?:0(?:_?0)*|[1-9](?:_?[0-9])*)",
)
_NUMBER = _group(_group(r"[0-9](?:_?[0-9])*[jJ]", _FLOAT + r"[jJ]"), _FLOAT, _INT)
_FUNNY = _group(r"\r?\n", _group(*map(re.escape, sorted(_OPERATORS, reverse=True))))
_CONT_STR = _group(
    _PREFIX + r"'[^\n'\\]*(?:\\.[^\n'\\]*)*" + _group("'", r"\\\r?\n"),
    _PREFIX + r'"[^\n"\\]*(?:\\.[^\n"\\]*)*' + _group('"', r"\\\r?\n"),
)
_EXTRAS = _group(r"\\\r?\n|\Z", r"#[^\r\n]*", _group(_PREFIX + "'''", _PREFIX + '"""'))
#: `tokenize.PseudoToken`: one token (group 1) after the blanks.
PSEUDO_TOKEN = r"[ \f\t]*" + _group(_EXTRAS, _NUMBER, _FUNNY, _CONT_STR, r"\w+")
#: `tokenize.endpats`: the rest of a string after its prefix and opening quote.
ENDPATS = {
    p + q: tail
    for p in _string_prefixes()
    for q, tail in (
        ("'", r"[^'\\]*(?:\\.[^'\\]*)*'"),
        ('"', r'[^"\\]*(?:\\.[^"\\]*)*"'),
        ("'''", r"[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''"),
        ('"""', r'[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""'),
    )
}
TRIPLE_QUOTED = frozenset(k for k in ENDPATS if k.endswith(("'''", '"""')))
SINGLE_QUOTED = frozenset(k for k in ENDPATS if k not in TRIPLE_QUOTED)

_PSEUDO = re.compile(PSEUDO_TOKEN, re.UNICODE).match
#: The commonest tokens, where `_PSEUDO` would find exactly these (it tries ~150 alternatives
#: first): 1 a name (not a string prefix: no quote after it), 2 a bracket, 3 a one-character
#: operator no longer operator starts with, 4 the end of the line.
FAST_TOKEN = r"[ \f\t]*+(?:([^\W\d]\w*+)(?!['\"])|([()\[\]{}])|([,;~]|\.(?![.0-9])|[=:](?!=))|(\n))"
_FAST = re.compile(FAST_TOKEN).match
_END = {k: re.compile(v, re.UNICODE) for k, v in ENDPATS.items()}
_TAB = 8  # tokenize.tabsize


class _Stop(Exception):
    """Where `tokenize` raises (EOF inside a string or brackets, an inconsistent dedent)."""


@dataclass(slots=True)
class PyTokens:
    """What the scan counted. `last_row`: the row the last code token ended on."""

    full: int = 0
    inline: int = 0
    texts: list[str] = field(default_factory=list)
    str_chars: int = 0
    num_chars: int = 0
    rows: list[tuple[int, int]] = field(default_factory=list)
    code_tokens: int = 0
    last_row: int = -1
    # tokenizer state
    parenlev: int = 0
    continued: bool = False
    #: An unfinished string: its end pattern, chars so far, whether lines must end in "\".
    cont: re.Pattern[str] | None = None
    cont_len: int = 0
    needcont: bool = False
    indents: list[int] = field(default_factory=lambda: [0])

    def comment(self, text: str, row: int, col: int) -> None:
        if text.startswith("#!") or "coding" in text[:30]:
            return
        self.texts.append(text.lstrip("# "))
        self.rows.append((row, col))
        if self.last_row == row:
            self.inline += 1
        else:
            self.full += 1


def scan(src: str) -> PyTokens:
    """Count over `src` as `tokenize.generate_tokens(io.StringIO(src).readline)` reads it."""
    t = PyTokens()
    parts = src.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    lines.append("")  # readline's end of input
    try:
        for lnum, line in enumerate(lines, 1):
            pos = _line_start(t, line, lnum)
            if pos is None:
                break
            if pos >= 0:
                _tokens(t, line, lnum, pos)
    except Exception:  # _Stop, or anything else: the signals always kept what came before
        pass
    return t


def _line_start(t: PyTokens, line: str, lnum: int) -> int | None:
    """Continued strings, indentation and comment-only lines; where the token loop starts
    (-1: nothing left on this line, None: end of input)."""
    if t.cont is not None:
        if not line:
            raise _Stop
        m = t.cont.match(line)
        if m:
            end = m.end(0)
            t.str_chars += t.cont_len + end
            t.last_row = lnum
            t.cont, t.needcont = None, False
            return end
        if t.needcont and line[-2:] != "\\\n" and line[-3:] != "\\\r\n":
            t.last_row = lnum  # an error token: the rest of the string
            t.cont = None
        else:
            t.cont_len += len(line)
        return -1
    if t.parenlev or t.continued:
        if not line:
            raise _Stop
        t.continued = False
        return 0
    if not line:
        return None
    pos = column = 0
    for ch in line:
        if ch == " ":
            column += 1
        elif ch == "\t":
            column = (column // _TAB + 1) * _TAB
        elif ch == "\f":
            column = 0
        else:
            break
        pos += 1
    if pos == len(line):
        return None
    if line[pos] in "#\r\n":
        if line[pos] == "#":
            t.comment(line[pos:].rstrip("\r\n"), lnum, pos)
        return -1
    indents = t.indents
    if column > indents[-1]:
        indents.append(column)
    while column < indents[-1]:
        if column not in indents:
            raise _Stop
        indents.pop()
    return pos


def _tokens(t: PyTokens, line: str, lnum: int, pos: int) -> None:
    """The tokens of one line from `pos`, counted (tokenize's inner loop)."""
    end_of_line = len(line)
    while pos < end_of_line:
        m = _FAST(line, pos)
        if m:
            kind, pos = m.lastindex, m.end()
            if kind == 2:
                t.parenlev += 1 if line[pos - 1] in "([{" else -1
            if kind != 4:  # a name or an operator
                t.code_tokens += 1
                t.last_row = lnum
            continue
        m = _PSEUDO(line, pos)
        if not m:
            t.last_row = lnum  # an error token: one character
            pos += 1
            continue
        start, pos = m.span(1)
        if start == pos:
            continue
        token, initial = line[start:pos], line[start]
        if initial in "0123456789" or (initial == "." and token != "." and token != "..."):
            t.num_chars += len(token)
            t.code_tokens += 1
            t.last_row = lnum
        elif initial in "\r\n":
            pass
        elif initial == "#":
            t.comment(token, lnum, start)
        elif token in TRIPLE_QUOTED:
            m = _END[token].match(line, pos)
            if not m:
                t.cont, t.cont_len = _END[token], end_of_line - start
                return
            pos = m.end(0)
            t.str_chars += pos - start
            t.last_row = lnum
        elif initial in SINGLE_QUOTED or token[:2] in SINGLE_QUOTED or token[:3] in SINGLE_QUOTED:
            if token[-1] == "\n":
                t.cont = _END.get(initial) or _END.get(token[1]) or _END[token[2]]
                t.cont_len, t.needcont = end_of_line - start, True
                return
            t.str_chars += len(token)
            t.last_row = lnum
        elif initial.isidentifier():
            t.code_tokens += 1
            t.last_row = lnum
        elif initial == "\\":
            t.continued = True
        else:
            if initial in "([{":
                t.parenlev += 1
            elif initial in ")]}":
                t.parenlev -= 1
            t.code_tokens += 1
            t.last_row = lnum
