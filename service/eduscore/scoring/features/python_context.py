"""What a Python snippet explains and what it leans on unseen: comments (by tokenize's rules),
docstrings and free names (via ``ast``); snippets are never executed.

The rubric's level 2 is "depends on much unseen context" and "methods that only call other
project internals"; level 3 needs "some explanation" that does more than repeat the name.
"""

from __future__ import annotations

import ast
import re

from eduscore.scoring.features import python_tokens
from eduscore.scoring.features.formats import (
    MAX_PARSE_CHARS,
    PROSE_WORD_RE,
    explanation_features,
    log1p,
    ratio,
)
from eduscore.scoring.features.python_names import BUILTINS as _BUILTINS
from eduscore.scoring.features.python_names import STDLIB_MODULES
from eduscore.scoring.features.python_walk import PyWalk, walk

#: Modules a reader already knows: importing only these keeps a snippet self-contained.
_STDLIB = STDLIB_MODULES


def python_comments(
    src: str,
) -> tuple[int, int, list[str], int, int, list[tuple[int, int]], int]:
    """Tokenize Python: full-line and inline comments, their texts, string and number chars,
    comment positions and the number of code tokens (names, operators, numbers)."""
    t = python_tokens.scan(src[:MAX_PARSE_CHARS])
    return t.full, t.inline, t.texts, t.str_chars, t.num_chars, t.rows, t.code_tokens


def _name_parts(name: str) -> set[str]:
    """snake_case and CamelCase parts of an identifier, lower-cased, plural 's' dropped."""
    parts = re.split(r"_|(?<=[a-z])(?=[A-Z])", name)
    return {p.lower().rstrip("s") for p in parts if p}


def _doc_name_overlap(docs: list[tuple[str, str]]) -> float:
    """Mean share of a docstring's first paragraph that only repeats its owner's name."""
    overlaps = []
    for name, doc in docs:
        words = PROSE_WORD_RE.findall(doc.split("\n\n")[0]) if name else []
        if words:
            parts = _name_parts(name)
            overlaps.append(ratio(sum(w.lower().rstrip("s") in parts for w in words), len(words)))
    total = 0.0  # left to right, as sum() added floats before 3.12 (it compensates since)
    for overlap in overlaps:
        total += overlap
    return ratio(total, len(overlaps))


def context_features(
    tree: ast.Module, w: PyWalk, comments: list[str], code_tokens: int, feats: dict[str, float]
) -> None:
    """How much a snippet leans on code the reader cannot see, and how much of it explains.

    Measured from the syntax tree (`w`, its walk) and the comments, never running anything.
    """
    # These signals are defined on a breadth-first walk: the same nodes unless `w` was bounded.
    c = w if w.complete else walk(tree, breadth_first=True)
    free = {x for x in c.loaded if x not in c.defined and x not in _BUILTINS}
    refs = c.refs + list(c.loaded)
    imports = c.imports
    feats["free_name_ratio"] = ratio(len(free), len(c.loaded))
    feats["private_ref_ratio"] = ratio(
        sum(r.startswith("_") and not r.startswith("__") for r in refs), len(refs)
    )
    feats["stdlib_import_ratio"] = (
        ratio(sum(m in _STDLIB for m in imports), len(imports)) if imports else 1.0
    )
    feats["log_third_party_imports"] = log1p(sum(m not in _STDLIB for m in imports))
    feats["log_distinct_names"] = log1p(len(c.loaded | c.defined))
    feats["builtin_call_ratio"] = ratio(c.builtin_calls, c.calls)

    doc_words = sum(len(PROSE_WORD_RE.findall(d)) for _, d in c.docs)
    explanation_features(comments, doc_words, code_tokens, feats)
    feats["doc_name_overlap"] = _doc_name_overlap(c.docs)
