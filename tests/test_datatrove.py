"""EduScoreFilterBlock in a real local datatrove pipeline: JSONL in, kept and dropped JSONL out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eduscore.serving.client import EduScoreClient, SnippetIn

from .conftest import MODEL_DIR
from .long_files import PY_MODULE
from .snippets import CI_YAML, GENERATED, SETTINGS, SMALL, TEXTBOOK

pytest.importorskip("datatrove", reason="the datatrove extra is not installed")

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from eduscore.pipelines.datatrove_block import EduScoreFilterBlock

ROWS: list[dict[str, Any]] = [
    {"id": f"d{i}", "code": code}
    for i, code in enumerate([TEXTBOOK, SETTINGS, GENERATED, CI_YAML, *SMALL])
]


def read_docs(folder: Path) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.open()]
    return {r["id"]: r for r in rows}


def test_local_pipeline_keeps_what_the_service_keeps(server, tmp_path: Path) -> None:
    with EduScoreClient(server.address) as client:
        served = {
            r.id: r.score
            for r in client.score_batch(SnippetIn(code=r["code"], id=r["id"]) for r in ROWS)
        }
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "snippets.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(tmp_path / "in"), text_key="code"),
            EduScoreFilterBlock(
                threshold=3.0,
                batch_size=4,
                exclusion_writer=JsonlWriter(str(tmp_path / "dropped"), compression=None),
            ),
            JsonlWriter(str(tmp_path / "kept"), compression=None),
        ],
        tasks=1,
        workers=1,
        logging_dir=str(tmp_path / "logs"),
    ).run()
    kept, dropped = read_docs(tmp_path / "kept"), read_docs(tmp_path / "dropped")
    assert sorted(kept) == sorted(i for i, s in served.items() if s >= 3.0)
    assert set(kept) | set(dropped) == set(served) and not set(kept) & set(dropped)
    assert 0 < len(kept) < len(ROWS)
    for doc in [*kept.values(), *dropped.values()]:
        assert doc["metadata"]["edu_score"] == pytest.approx(served[doc["id"]], abs=1e-6)
    assert {d["metadata"]["filter_reason"] for d in dropped.values()} == {"edu_below_threshold"}
    stats = json.loads((tmp_path / "logs" / "stats" / "00000.json").read_text())
    block = next(s for s in stats if s["name"].startswith("🔻 - FILTER: 🎓 EduScore"))
    assert block["stats"]["dropped_edu_below_threshold"] == len(dropped)


def test_batch_marks_invalid_text_and_never_loads_for_it() -> None:
    block = EduScoreFilterBlock(threshold=0.0, batch_size=2)
    assert block.filter_batch([Document(text="  ", id="e"), Document(text="a\x00b", id="n")]) == [
        (False, "edu_invalid"),
        (False, "edu_invalid"),
    ]
    assert block._scorer is None  # nothing scorable: the model was not loaded
    doc = Document(text=TEXTBOOK, id="t")
    assert block.filter(doc) is True and doc.metadata["edu_label"] in range(6)
    assert doc.metadata["edu_tier"] == "full"  # what decided, beside the score
    assert doc.metadata["edu_model_version"] == block.scorer.model_version
    with pytest.raises(ValueError, match="threshold=7"):
        EduScoreFilterBlock(threshold=7)


@pytest.mark.skipif(
    not (MODEL_DIR / "fast" / "metadata.json").exists(),
    reason="the shipped model has no fast tier (models/current/fast/) yet",
)
def test_fast_tier_block_scores_like_the_servers_fast_tier(server) -> None:
    docs = [Document(text=r["code"], id=r["id"]) for r in ROWS]
    with EduScoreClient(server.address) as client:
        fast = client.score_batch([SnippetIn(code=d.text, id=d.id) for d in docs], tier="fast")
    block = EduScoreFilterBlock(threshold=3.0, batch_size=4, tier="fast")
    verdicts = block.filter_batch(docs)
    assert block.scorer.full is None  # the fast tier loads no encoder
    for doc, want, verdict in zip(docs, fast, verdicts, strict=True):
        assert doc.metadata["edu_tier"] == "fast"
        assert doc.metadata["edu_score"] == pytest.approx(want.score, abs=1e-6)
        assert (verdict is True) == want.keep


def test_units_go_into_the_metadata(server) -> None:
    from eduscore.pipelines.rows import unit_rows

    docs = [Document(text=PY_MODULE, id="graph"), Document(text=TEXTBOOK, id="book")]
    with EduScoreClient(server.address) as client:
        served = client.score_batch([SnippetIn(d.text, d.id) for d in docs], units=True)
    block = EduScoreFilterBlock(threshold=3.0, batch_size=2, units=True)
    block.filter_batch(docs)
    for doc, want in zip(docs, served, strict=True):
        got = doc.metadata["edu_units"]
        assert [{k: v for k, v in u.items() if k != "score"} for u in got] == [
            {k: v for k, v in u.items() if k != "score"} for u in unit_rows(want.units)
        ]
        assert [u["score"] for u in got] == pytest.approx([u.score for u in want.units], abs=1e-6)
        assert doc.metadata["edu_score"] == pytest.approx(want.score, abs=1e-6)
    assert docs[0].metadata["edu_units"] and docs[1].metadata["edu_units"] == []
    block.units = False  # the default: no units (the same block, so no second model load)
    plain = Document(text=PY_MODULE, id="p")
    block.filter_batch([plain])
    assert "edu_units" not in plain.metadata
