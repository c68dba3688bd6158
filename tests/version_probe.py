"""Run under each Python by tests/test_python_versions.py, which compares what they print.

`python version_probe.py signals` reads JSONL rows ({"id", "code"}) on stdin and prints, per row,
the signals `features.extract(code)` measures (as exact hex floats) and whether the signals read
the whole code as Python. `python version_probe.py client ADDRESS` scores the rows on a server with
`eduscore.client` alone (a client-only install has no numpy) and prints the results.
Not collected by pytest: a script, so that it runs where only the package is installed.
"""

from __future__ import annotations

import json
import sys


def signals() -> None:
    from eduscore.scoring import features
    from eduscore.scoring.features.python_ast import parse_python

    for line in sys.stdin:
        row = json.loads(line)
        values = features.extract(row["code"])
        tree, whole = parse_python(row["code"])
        parses = tree is not None and whole
        hexed = [values[name].hex() for name in features.FEATURE_NAMES]
        print(json.dumps({"id": row["id"], "signals": hexed, "parses": parses}))


def client(address: str) -> None:
    from dataclasses import asdict

    from eduscore.client import EduScoreClient, SnippetIn

    rows = [json.loads(line) for line in sys.stdin]
    snippets = [SnippetIn(code=r["code"], id=r["id"]) for r in rows]
    with EduScoreClient(address, timeout_s=60) as c:
        out = {
            "batch": [asdict(r) for r in c.score_batch(snippets)],
            "stream": [asdict(r) for r in c.score_stream(iter(snippets))],
            "one": asdict(c.score(rows[0]["code"], id=rows[0]["id"], tier="fast")),
            "model_version": c.model_info().model_version,
        }
    heavy = ("torch", "sklearn", "sentence_transformers", "numpy", "aiohttp", "grpc_health")
    out["heavy"] = [m for m in heavy if m in sys.modules]
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "signals":
        signals()
    else:
        client(sys.argv[2])
