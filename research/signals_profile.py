"""Speed and identity of `features.extract` on the labelled corpus (an experiment, not the package).

    python research/signals_profile.py baseline OUT.json       # signals of every corpus unit
    python research/signals_profile.py compare BASELINE.json   # bit-identical? (exit 1 if not)
    (both take --edge: synthetic inputs the corpus lacks, instead of the corpus)
    python research/signals_profile.py profile [N]             # cProfile, top by tottime
    python research/signals_profile.py rate [N]                # snippets/s, one core
    python research/signals_profile.py ab OLD_SERVICE_DIR [ROUNDS]  # old vs this tree, alternated

Which implementation runs is whatever `eduscore` resolves to on PYTHONPATH; `ab` runs `rate`
in subprocesses alternately against OLD_SERVICE_DIR and this checkout, so both see the same load.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import random
import subprocess
import sys
import time
from pathlib import Path

CORPUS = Path("/work/shared/data/edu-annotations/corpus.jsonl")
HERE = Path(__file__).resolve().parents[1] / "service"


def _codes(n: int | None = None) -> list[str]:
    with CORPUS.open(encoding="utf-8") as fh:
        codes = [json.loads(line)["code"] for line in fh if line.strip()]
    return codes[:n] if n else codes


_GRAMMARS = ("c", "cpp", "go", "java", "javascript", "typescript", "rust", "shell")


def _edge_cases() -> list[tuple[str, str]]:
    """Inputs the corpus lacks: long files, trees over the node bound, cut code, odd text."""
    rng = random.Random(0)
    codes = _codes()
    out = []
    for _ in range(300):  # concatenations: long files, many docstrings, mixed formats
        out.append("\n".join(rng.sample(codes, rng.randint(2, 40)))[: rng.randint(3000, 25000)])
    for c in rng.sample(codes, 1500):  # cut anywhere: broken code, open strings and brackets
        out.append(c[: rng.randint(0, len(c))])
        out.append(c[rng.randint(0, len(c)) :])
    for c in rng.sample(codes, 300):  # Unicode case folding, non-ASCII text, tabs, form feeds
        out.append(c.replace("s", "\u017f").replace("k", "\u212a").replace("i", "\u0130"))
        out.append(c.upper())
        out.append(c.replace("    ", "\t").replace("\n", "\n\f", 3))
    for n in (3000, 6000, 10000):  # trees over MAX_AST_NODES
        out.append("x = " + " + ".join(f"a{i}.b(c)" for i in range(n)))
        out.append("def f(a):\n    '''Doc.'''\n    return f(a)\n" + "y = [1, 2]\n" * n)
        out.append("\n".join(f"def g{i}(x):\n    '''Docs for g{i}.'''\n" for i in range(n)))
    doc = "def f(a):\n    '''Doc of f here.'''\n    return f(a)\n"
    for filler in ("a+b;" * 2950, "-a;" * 3950, "-a;" * 4100, "a.b(c)\n" * 2000):
        out += [doc + filler, filler + "\n" + doc, doc + filler + "\n" + doc.replace("f", "g")]
    cases = [(c, "") for c in out]
    for lang in (*_GRAMMARS, "python", "yaml"):  # each parser on cut code, and over the bound
        cases += [(c[: rng.randint(0, len(c))], lang) for c in rng.sample(codes, 60)]
        for filler in ("!" * 11000 + "x;", "a+b;" * 3000, "f(1,2,3);" * 1300, "[1,1,1];" * 1500):
            cases += [("/** Doc of main. */\nint main() { return 0; }\n" + filler, lang)]
            cases += [(filler + "\n// tail\nint main() { return 0; }\n", lang)]
    return cases


def baseline(out: str, edge: bool = False) -> None:
    from eduscore.scoring import features

    cases = _edge_cases() if edge else [(c, "") for c in _codes()]
    rows = [features.extract(c, lang) for c, lang in cases]
    Path(out).write_text(json.dumps(rows))
    print(f"{len(rows)} units -> {out}")


def compare(path: str, edge: bool = False) -> int:
    from eduscore.scoring import features

    want = json.loads(Path(path).read_text())
    codes = _edge_cases() if edge else [(c, "") for c in _codes()]
    assert len(want) == len(codes)
    bad = 0
    for i, ((code, lang), ref) in enumerate(zip(codes, want, strict=True)):
        got = features.extract(code, lang)
        diff = [k for k in ref if got.get(k) != ref[k]] + [k for k in got if k not in ref]
        if diff or list(got) != list(ref):
            bad += 1
            if bad <= 10:
                print(f"unit {i}: " + ", ".join(f"{k}: {ref.get(k)} != {got.get(k)}" for k in diff))
    print(f"{len(codes) - bad}/{len(codes)} identical")
    return 1 if bad else 0


def profile(n: int) -> None:
    from eduscore.scoring import features

    codes = _codes(n)
    features.extract(codes[0], "")  # parsers and detector loaded outside the profile
    prof = cProfile.Profile()
    prof.enable()
    for c in codes:
        features.extract(c, "")
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(35)


def rate(n: int | None) -> float:
    from eduscore.scoring import features

    codes = _codes(n)
    features.extract(codes[0], "")
    # CPU time of this process: the machine is shared, and wall time counts others' work too
    t0 = time.process_time()
    for c in codes:
        features.extract(c, "")
    r = len(codes) / (time.process_time() - t0)
    print(f"{r:.1f}")
    return r


def ab(old: str, rounds: int) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    rates: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(rounds):
        for name, path in (("old", old), ("new", str(HERE))):
            out = subprocess.run(
                [sys.executable, __file__, "rate"],
                env=dict(env, PYTHONPATH=path),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rates[name].append(float(out.split()[-1]))
            print(name, rates[name][-1], flush=True)
    best_old, best_new = max(rates["old"]), max(rates["new"])
    med = sorted(n / o for n, o in zip(rates["new"], rates["old"], strict=True))
    print(f"best old {best_old:.0f}/s, best new {best_new:.0f}/s, ratio {best_new / best_old:.2f}")
    print(f"per-round ratios {[round(x, 2) for x in med]}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "baseline":
        baseline(args[0], edge="--edge" in args)
    elif cmd == "compare":
        sys.exit(compare(args[0], edge="--edge" in args))
    elif cmd == "profile":
        profile(int(args[0]) if args else 1500)
    elif cmd == "rate":
        rate(int(args[0]) if args else None)
    elif cmd == "ab":
        ab(args[0], int(args[1]) if len(args) > 1 else 3)
