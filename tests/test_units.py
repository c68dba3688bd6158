"""Whole files cut into units the way the corpus cut them (scoring/units.py), and planned by the
Scorer: a short input is one unit, a long one its units in the file's own format."""

from __future__ import annotations

import textwrap

import pytest

from eduscore.errors import InvalidInput
from eduscore.scoring.files import SINGLE_UNIT_CHARS, FilePlan, aggregate
from eduscore.scoring.results import Snippet
from eduscore.scoring.units import MAX_UNIT_CHARS, pieces, split


def _python_module(n_functions: int = 12, long_class: bool = True) -> str:
    head = '"""Geometry helpers for the exercises."""\n\nimport math\n\nTAU = 2 * math.pi\n\n'
    funcs = "".join(
        textwrap.dedent(
            f'''
            # helper number {i}
            def area_{i}(r: float) -> float:
                """Area of a circle of radius r, scaled by {i}."""
                return {i} * math.pi * r * r

            '''
        )
        for i in range(n_functions)
    )
    methods = "".join(
        f"    def method_{i}(self, x):\n        '''Step {i}.'''\n"
        + "        x += 1\n" * 30
        + "        return x\n\n"
        for i in range(8)
    )
    klass = f'class Shape:\n    """A shape with many steps."""\n\n    sides = 3\n\n{methods}'
    main = 'if __name__ == "__main__":\n    print(area_1(2.0))\n    print(area_2(3.0))\n'
    return head + funcs + (klass if long_class else "") + main


def test_python_file_splits_into_functions_class_members_head_and_rest() -> None:
    code = _python_module()
    units = split(code, "python")
    lines = code.split("\n")
    kinds = [u.kind for u in units]
    assert kinds[0] == "head" and units[0].start_line == 1
    functions = [u for u in units if u.kind == "function"]
    assert [u.name for u in functions] == [f"area_{i}" for i in range(12)]
    first = functions[0]
    # the comment right above belongs to the function, as in the corpus's units
    assert first.code.startswith("# helper number 0\ndef area_0(")
    assert lines[first.start_line - 1] == "# helper number 0"
    assert lines[first.end_line - 1].strip() == "return 0 * math.pi * r * r"
    # a class longer than a unit: its head (docstring, fields) and its methods, dedented
    assert len(code) > MAX_UNIT_CHARS
    shape = [u for u in units if u.kind == "class"]
    assert [u.name for u in shape] == ["Shape"] and "sides = 3" in shape[0].code
    methods = [u for u in units if u.kind == "method"]
    assert [u.name for u in methods] == [f"method_{i}" for i in range(8)]
    assert all(u.code.startswith("def method_") for u in methods)
    # the main block no declaration covers is kept as a block
    assert any(u.kind == "block" and "__main__" in u.code for u in units)


def test_tree_sitter_file_units_carry_their_doc_comment() -> None:
    body = "".join(
        f"/**\n * Adds {i} to x.\n * @param x a number\n */\nfunction add{i}(x) {{\n"
        + "  const y = x + 1;\n" * 20
        + f"  return y + {i};\n}}\n\n"
        for i in range(10)
    )
    units = split(body, "javascript")
    functions = [u for u in units if u.kind == "function"]
    assert [u.name for u in functions] == [f"add{i}" for i in range(10)]
    assert all(u.code.startswith("/**\n * Adds") for u in functions)


def test_config_and_unparsable_text_come_in_pieces_of_whole_lines() -> None:
    yaml = "".join(f"key_{i}:\n  value: {i}\n  other: text {i}\n\n" for i in range(400))
    units = split(yaml, "yaml")
    assert {u.kind for u in units} == {"piece"} and len(units) > 3
    assert "\n".join(u.code for u in units).count("key_") == 400
    assert all(len(u.code) <= 2200 for u in units)
    # consecutive and complete: every line is in exactly one piece
    assert [u.start_line for u in units[1:]] == [u.end_line + 1 for u in units[:-1]]
    broken = "def broken(:\n    pass\n" * 300
    assert {u.kind for u in split(broken, "python")} == {"piece"}


@pytest.mark.parametrize("fmt", ["python", "rust", "csharp", "php", "ruby", "swift", "text"])
def test_split_never_raises_and_never_loses_a_file(fmt: str) -> None:
    for junk in ("}" * 5000, "\x00\x01" * 3000, "(" * 4000 + "\n" * 10, "é" * 5000):
        units = split(junk, fmt)
        assert units and all(u.start_line <= u.end_line for u in units)
    assert pieces("") == []


def test_scorer_plans_short_inputs_as_one_unit_and_files_as_their_units(scorer) -> None:
    short = Snippet(code="def f(x):\n    return x\n" * 10)
    assert len(short.code) <= SINGLE_UNIT_CHARS
    plan = scorer.plan(short)
    assert plan.single and scorer.units_of(short, plan) == [short]
    long = Snippet(id="geo", code=_python_module(), tier="fast")
    plan = scorer.plan(long)
    assert not plan.single and plan.fmt == "python"
    parts = scorer.units_of(long, plan)
    assert len(parts) == len(plan.units) and {p.language for p in parts} == {"python"}
    assert all(p.tier == "fast" and p.id == "geo" for p in parts)
    assert len(aggregate(plan, [3.0] * len(plan.units))) > 0


def test_a_file_with_too_many_units_is_refused_naming_the_limit(scorer) -> None:
    many = Snippet(code="".join(f"def f{i}():\n    return {i}\n\n" for i in range(400)))
    old = scorer.max_file_units
    scorer.max_file_units = 50
    try:
        with pytest.raises(InvalidInput, match="--max-file-units=50"):
            scorer.plan(many)
    finally:
        scorer.max_file_units = old


def test_file_plan_single_flag() -> None:
    from eduscore.scoring.units import Unit

    assert FilePlan((Unit("whole", "", 1, 1, "x"),), "", 1, False).single
    assert not FilePlan((Unit("head", "", 1, 1, "x"),), "python", 1, False).single


def test_corpus_units_score_exactly_as_one_unit(scorer) -> None:
    """Every input no longer than the corpus's units is scored as itself: through score_batch
    (which plans files) exactly as through score_units (which never splits), in every tier."""
    import json

    from .conftest import CORPUS

    rows = [json.loads(line) for line in CORPUS.open()]
    picked = rows[::40]  # ~200 units, every language and kind
    assert max(len(r["code"]) for r in rows) <= SINGLE_UNIT_CHARS
    for tier in ("full", "fast", "cascade"):
        snippets = [
            Snippet(id=r["id"], code=r["code"], language=r["language"], tier=tier) for r in picked
        ]
        assert scorer.score_batch(snippets) == scorer.score_units(snippets)
