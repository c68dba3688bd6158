"""Whether CPython 3.11 accepts the f-strings of a source that parses on a later Python.

3.12 (PEP 701) parses f-strings 3.11 refuses, and `ast.parse(feature_version=(3, 11))` does not
refuse them again: 3.11 cut an f-string at the next quote of its own kind, then read its
replacement fields by rules 3.12 dropped (no backslash, no `#`, format specs nested two levels
at most). A snippet 3.11 cannot parse scores from a shorter prefix or none, so on 3.12+ this
check turns those f-strings back into syntax errors. It is 3.11's tokenizer for the string
literals (`python_tokens`' regexes) and its `fstring_find_literal` / `fstring_find_expr`
(Parser/string_parser.c) for each f-string, recursing into the strings of each expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from eduscore.scoring.features.python_tokens import (
    ENDPATS,
    FAST_TOKEN,
    PSEUDO_TOKEN,
    SINGLE_QUOTED,
    TRIPLE_QUOTED,
)

_PSEUDO = re.compile(PSEUDO_TOKEN, re.UNICODE).match
_FAST = re.compile(FAST_TOKEN).match  # the commonest tokens, none of them a string
_END = {k: re.compile(v, re.UNICODE) for k, v in ENDPATS.items()}
#: An f-string's prefix and opening quote: a source without one needs no check.
_FSTRING_START = re.compile(r"(?<!\w)(?:[fF][rR]?|[rR][fF])['\"]")
#: Nested brackets 3.11 allows in a replacement field (MAXLEVEL).
_MAX_NESTING = 200
_SPACE = " \t\n\r\x0b\x0c"  # Py_ISSPACE


class _Refused(Exception):
    """What 3.11 raised a SyntaxError for."""


def accepted_by_311(src: str) -> bool:
    """False when CPython 3.11 would refuse one of the f-strings of `src`."""
    if _FSTRING_START.search(src) is None:
        return True
    try:
        _check(src)
    except (_Refused, RecursionError):
        return False
    return True


def _check(src: str) -> None:
    for token in _strings(src):
        quote = min(i for i in (token.find("'"), token.find('"')) if i >= 0)
        prefix = token[:quote].lower()
        if "f" in prefix:
            width = 3 if token[quote : quote + 3] in ("'''", '"""') else 1
            body = token[quote + width : len(token) - width]
            _fstring(body, 0, "r" in prefix, 0)


def _lines(src: str) -> Iterator[str]:
    parts = src.split("\n")
    yield from (p + "\n" for p in parts[:-1])
    if parts[-1]:
        yield parts[-1]


def _strings(src: str) -> Iterator[str]:
    """The string literals of `src` as 3.11's tokenizer cuts them, prefix and quotes included."""
    cont: re.Pattern[str] | None = None
    parts: list[str] = []
    needcont = False
    for line in _lines(src):
        pos = 0
        if cont is not None:
            m = cont.match(line)
            if m is None:
                if needcont and not line.endswith("\\\n"):
                    raise _Refused  # unterminated string literal
                parts.append(line)
                continue
            pos = m.end()
            yield "".join(parts) + line[:pos]
            cont = None
        while pos < len(line):
            m = _FAST(line, pos)
            if m is not None:
                pos = m.end()
                continue
            m = _PSEUDO(line, pos)
            if m is None:
                if line[pos] in "'\"":
                    raise _Refused  # a quote that opens no string 3.11 can end on this line
                pos += 1
                continue
            start, pos = m.span(1)
            token = line[start:pos]
            if token in TRIPLE_QUOTED:
                end = _END[token].match(line, pos)
                if end is None:
                    cont, parts, needcont = _END[token], [line[start:]], False
                    break
                pos = end.end()
                yield line[start:pos]
            elif (
                token[:1] in SINGLE_QUOTED
                or token[:2] in SINGLE_QUOTED
                or token[:3] in SINGLE_QUOTED
            ):
                if token[-1] != "\n":
                    yield token
                    continue
                quote = next(c for c in token if c in "'\"")
                cont, parts, needcont = _END[quote], [token], True  # continued by a backslash
                break
    if cont is not None:
        raise _Refused  # EOF in a string


def _fstring(s: str, i: int, raw: bool, level: int) -> int:
    """3.11's `_PyPegen_FstringParser_ConcatFstring`: literals and fields from `i` to the end
    of `s` (level 0) or to the '}' closing a format spec (level > 0); returns where it stopped."""
    n = len(s)
    while True:
        i, doubled = _literal(s, i, raw, level)
        if doubled:
            continue
        if i >= n or s[i] == "}":
            break
        i = _field(s, i, raw, level)
    if level and (i >= n or s[i] != "}"):
        raise _Refused  # f-string: expecting '}'
    return i


def _literal(s: str, i: int, raw: bool, level: int) -> tuple[int, bool]:
    """3.11's `fstring_find_literal`: (where the literal ends, whether at a doubled brace)."""
    n = len(s)
    while i < n:
        ch = s[i]
        i += 1
        if not raw and ch == "\\" and i < n:
            ch = s[i]
            i += 1
            if ch == "N":
                if i < n and s[i] == "{":
                    end = s.find("}", i + 1)
                    i = n if end < 0 else end + 1
                elif i < n:
                    i += 1
                continue
        if ch in "{}":
            if level == 0:
                if i < n and s[i] == ch:
                    return i + 1, True
                if ch == "}":
                    raise _Refused  # f-string: single '}' is not allowed
            return i - 1, False
    return i, False


def _field(s: str, i: int, raw: bool, level: int) -> int:
    """3.11's `fstring_find_expr` from the '{' at `i`; returns where its '}' ends."""
    if level >= 2:
        raise _Refused  # f-string: expressions nested too deeply
    start = i = i + 1
    i = _expression_end(s, i)
    expression = s[start:i]
    if not expression.strip(" \t\n\f"):
        raise _Refused  # f-string: empty expression not allowed
    _check(expression)  # 3.11 parses it as a fresh source: its own f-strings are checked anew
    n = len(s)
    if s[i] == "=":
        i += 1
        while i < n and s[i] in _SPACE:
            i += 1
        if i >= n:
            raise _Refused
    if i < n and s[i] == "!":
        if i + 1 >= n or s[i + 1] not in "sra":
            raise _Refused  # f-string: invalid conversion character
        i += 2
    if i < n and s[i] == ":":
        if i + 1 >= n:
            raise _Refused
        i = _fstring(s, i + 1, raw, level + 1)
    if i >= n or s[i] != "}":
        raise _Refused  # f-string: expecting '}'
    return i + 1


def _expression_end(s: str, i: int) -> int:
    """Where the expression starting at `i` ends: '!', ':', '}' or '=' outside brackets and
    strings. 3.11 refuses a backslash anywhere in it and a '#' outside its strings."""
    n = len(s)
    quote, stack = "", []
    while i < n:
        ch = s[i]
        if ch == "\\":
            raise _Refused  # f-string expression part cannot include a backslash
        if quote:
            if ch == quote[0] and (len(quote) == 1 or (i + 2 < n and s[i : i + 3] == quote)):
                i += len(quote) - 1
                quote = ""
        elif ch in "'\"":
            quote = ch * 3 if i + 2 < n and s[i + 1] == ch == s[i + 2] else ch
            i += len(quote) - 1
        elif ch in "[{(":
            if len(stack) >= _MAX_NESTING:
                raise _Refused
            stack.append(ch)
        elif ch == "#":
            raise _Refused  # f-string expression part cannot include '#'
        elif not stack and ch in "!:}=<>":
            if i + 1 < n and s[i + 1] == "=" and ch in "!=<>":
                i += 2  # !=, ==, <=, >=
                continue
            if ch not in "<>":
                break
        elif ch in "]})" and (not stack or "([{".index(stack.pop()) != ")]}".index(ch)):
            raise _Refused  # f-string: unmatched, or closing another bracket than the last
        i += 1
    if quote or stack or i >= n:
        raise _Refused  # f-string: unterminated string, unmatched bracket, or no '}'
    return i
