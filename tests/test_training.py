"""Training and evaluation on a slice of the real corpus (a few packages, two grouped folds)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.training.data import read_labelled
from eduscore.training.evaluate import evaluate
from eduscore.training.evaluation import compute_metrics
from eduscore.training.train import train

from .conftest import CORPUS
from .snippets import SETTINGS, TEXTBOOK

PACKAGES = {"algorithms", "gh_actions_starter-workflows", "requests", "boltons"}


@pytest.fixture(scope="module")
def slice_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~180 units from four packages, written to a temp dir (never into the repository)."""
    rows = [json.loads(line) for line in CORPUS.open()]
    rng = np.random.default_rng(0)
    picked = [r for r in rows if r["package"] in PACKAGES]
    picked = [picked[i] for i in sorted(rng.choice(len(picked), 180, replace=False))]
    path = tmp_path_factory.mktemp("data") / "slice.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in picked))
    return path


def test_metrics_on_known_values() -> None:
    labels = np.array([0, 1, 3, 4, 5, 2.0])
    scores = np.array([0, 1, 3, 2.5, 5, 3.5])
    m = compute_metrics(labels, scores, groups=["a", "a", "a", "b", "b", "b"])
    # keep truth: [F,F,T,T,T,F]; predicted: [F,F,T,F,T,T] -> tp=2, fp=1, fn=1
    assert m["precision_keep"] == pytest.approx(2 / 3) and m["recall_keep"] == pytest.approx(2 / 3)
    assert m["mae"] == pytest.approx((1.5 + 1.5) / 6)
    assert sum(map(sum, m["confusion"])) == 6 and m["confusion"][4][3] == 1
    assert set(m["per_package"]) == {"a", "b"}


def test_train_then_serve_the_artifact(slice_path: Path, tmp_path: Path) -> None:
    data = read_labelled(slice_path)
    out = train(data, tmp_path / "model", n_splits=2, progress=False)
    meta = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert meta["training_data"]["sha256"] == data.sha256
    assert meta["training_data"]["n_units"] == 180
    assert meta["cv"]["n_splits"] == 2 and len(meta["cv"]["per_fold"]) == 2
    folds = [set(f["packages"]) for f in meta["cv"]["per_fold"]]
    assert not folds[0] & folds[1], "a package leaked across folds"
    assert len(out["oof"]) == 180
    scorer = Scorer.load(str(tmp_path / "model"))
    book, conf = scorer.score_batch([Snippet(code=TEXTBOOK), Snippet(code=SETTINGS)])
    assert 0.0 <= conf.score <= 5.0 and 0.0 <= book.score <= 5.0


def test_evaluate_writes_report(slice_path: Path, tmp_path: Path) -> None:
    from .conftest import MODEL_DIR

    metrics = evaluate(slice_path, model_dir=str(MODEL_DIR), out_dir=tmp_path, progress=False)
    assert metrics["n"] == 180 and metrics["mode"] == "holdout"
    for name in ("report.json", "confusion.png", "score_vs_label.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "report.json").read_text())["f1_keep"] == metrics["f1_keep"]


def test_finetune_tunes_per_fold_then_ships_its_encoder(slice_path: Path, tmp_path: Path) -> None:
    """--finetune: one tuning per outer fold on its training packages only, one on all data;
    the model directory carries the tuned encoder and serving loads it."""
    from eduscore.scoring.embedding import Embedder, weights_sha256
    from eduscore.training.finetune import DONE_MARKER, FinetuneConfig

    rows = slice_path.read_text().splitlines(keepends=True)[::3]
    (tmp_path / "small.jsonl").write_text("".join(rows))
    data = read_labelled(tmp_path / "small.jsonl")
    cfg = FinetuneConfig(epochs=1, max_seq_length=64, batch_size=8)
    cache = tmp_path / "cache"
    train(data, tmp_path / "model", n_splits=2, cache_dir=cache, finetune=cfg, progress=False)
    meta = json.loads((tmp_path / "model" / "metadata.json").read_text())
    enc = meta["encoder"]
    base = Embedder("")
    assert enc["path"] == "encoder" and enc["finetune"]["epochs"] == 1
    assert enc["base"]["sha256"] == base.sha256
    assert enc["sha256"] == weights_sha256(tmp_path / "model" / "encoder") != base.sha256
    runs = sorted(
        json.loads(marker.read_text())["n_units"] for marker in cache.glob(f"*/{DONE_MARKER}")
    )
    assert len(runs) == 3 and runs[-1] == len(data) and runs[0] + runs[1] == len(data)
    scorer = Scorer.load(str(tmp_path / "model"))
    assert scorer.embedder.sha256 == enc["sha256"] and scorer.embedder.max_seq_length == 64
    tuned = scorer.embedder.encode([TEXTBOOK]).vectors[0]
    assert float(np.dot(tuned, base.encode([TEXTBOOK]).vectors[0])) < 0.9999
    (result,) = scorer.score_batch([Snippet(code=TEXTBOOK)])
    assert 0.0 <= result.score <= 5.0
    # `evaluate --cv` of a tuned model re-tunes per fold (here: the same runs, from the cache)
    # instead of embedding held-out packages with the encoder that saw their labels.
    again = evaluate(
        tmp_path / "small.jsonl",
        model_dir=str(tmp_path / "model"),
        out_dir=tmp_path / "cv",
        cv=2,
        cache_dir=cache,
        progress=False,
    )
    assert again["f1_keep"] == meta["cv"]["f1_keep"] and again["mae"] == meta["cv"]["mae"]
    assert len(list(cache.glob(f"*/{DONE_MARKER}"))) == 3
