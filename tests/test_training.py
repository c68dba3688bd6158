"""Training and evaluation on a slice of the real corpus (a few packages, two grouped folds)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eduscore.scoring import features
from eduscore.scoring.files import FileModel
from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.training.data import read_labelled
from eduscore.training.evaluate import evaluate, training_data_note
from eduscore.training.evaluation import compute_metrics
from eduscore.training.files import corpus_group
from eduscore.training.train import train

from .conftest import CORPUS, FILES
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
    m = compute_metrics(
        labels, scores, groups=["a", "a", "a", "b", "b", "b"], formats=["python"] * 5 + ["yaml"]
    )
    # keep truth: [F,F,T,T,T,F]; predicted: [F,F,T,F,T,T] -> tp=2, fp=1, fn=1
    assert m["precision_keep"] == pytest.approx(2 / 3) and m["recall_keep"] == pytest.approx(2 / 3)
    assert m["mae"] == pytest.approx((1.5 + 1.5) / 6)
    assert sum(map(sum, m["confusion"])) == 6 and m["confusion"][4][3] == 1
    assert set(m["per_package"]) == {"a", "b"}
    # Package b: truth [T,T,F], kept [F,T,T]; the YAML unit (label 2, score 3.5) is a false keep.
    assert m["per_package"]["b"]["n_keep_pred"] == 2 and m["per_package"]["b"]["f1_keep"] == 0.5
    assert m["per_format"]["yaml"] == {
        **m["per_format"]["yaml"],
        "n": 1,
        "n_keep_true": 0,
        "n_keep_pred": 1,
        "precision_keep": 0.0,
    }
    assert m["per_format"]["python"]["precision_keep"] == 1.0
    at = {t["threshold"]: t for t in m["thresholds"]}
    # 2.5 also keeps the 2.5 and the 3.5 (tp=3, fp=1); 4.0 keeps only the 5 (tp=1).
    assert at[2.5]["precision_keep"] == 0.75 and at[2.5]["recall_keep"] == 1.0
    assert at[2.5]["kept"] == pytest.approx(4 / 6)
    assert at[4.0]["precision_keep"] == 1.0 and at[4.0]["recall_keep"] == pytest.approx(1 / 3)
    assert at[3.0]["f1_keep"] == pytest.approx(m["f1_keep"])


def test_train_then_serve_the_artifact(slice_path: Path, files_path: Path, tmp_path: Path) -> None:
    data = read_labelled(slice_path)
    files = read_labelled(files_path)
    out = train(data, tmp_path / "model", n_splits=2, files=files, progress=False)
    meta = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert meta["training_data"]["sha256"] == data.sha256
    assert meta["training_data"]["n_units"] == 180
    assert meta["cv"]["n_splits"] == 2 and len(meta["cv"]["per_fold"]) == 2
    folds = [set(f["packages"]) for f in meta["cv"]["per_fold"]]
    assert not folds[0] & folds[1], "a package leaked across folds"
    assert len(out.oof) == 180 and out.model_dir == tmp_path / "model"
    per_format = meta["cv"]["per_format"]
    assert sum(v["n"] for v in per_format.values()) == 180 and "python" in per_format
    from eduscore.training import card

    assert "| yaml |" in card.render(meta)
    # The card's per-language table reads the corpus's own language (Python and config here).
    assert {"Python", "config and text"} <= set(meta["cv"]["per_language"])
    assert "| Python |" in (tmp_path / "model" / "README.md").read_text()
    assert (tmp_path / "model" / "report.json").is_file()
    scorer = Scorer.load(str(tmp_path / "model"))
    book, conf = scorer.score_batch([Snippet(code=TEXTBOOK), Snippet(code=SETTINGS)])
    assert 0.0 <= conf.score <= 5.0 and 0.0 <= book.score <= 5.0
    # The fast tier: distilled, trained in the same folds, shipped in fast/, served.
    assert scorer.tiers == ("full", "fast", "cascade")
    assert meta["tiers"]["fast"]["cv"]["f1_keep"] == round(out_fast_f1(tmp_path), 4)
    lo, hi = meta["tiers"]["cascade"]["band"]
    assert lo <= 3.0 <= hi and "## Tiers" in (tmp_path / "model" / "README.md").read_text()
    # A band per keep line, the default line's among them, checked on unseen packages too.
    bands = meta["tiers"]["cascade"]["bands"]
    assert bands["threshold"][0] == 0.0 and bands["threshold"][-1] == 5.0
    assert scorer.band_for(3.0) == (lo, hi) and len(meta["tiers"]["cascade"]["held_out"]) == 3
    fast = Scorer.load(str(tmp_path / "model"), tier="fast").score_batch([Snippet(code=TEXTBOOK)])
    assert fast[0].tier == "fast" and 0.0 <= fast[0].score <= 5.0
    # Whole files: each tier's file model, measured in grouped CV against the baselines, and
    # the out-of-fold unit scores it was fitted on (no code) for research.
    for tier, where in (("full", tmp_path / "model"), ("fast", tmp_path / "model" / "fast")):
        assert FileModel.load(where) is not None
        record = meta["files"][tier]
        assert 0.0 <= record["f1_keep"] <= 1.0 and {"naive", "max"} <= set(record["baselines"])
    assert meta["files"]["data"]["n_files"] == len(files)
    oof = json.loads((tmp_path / "model" / "files_oof.json").read_text())
    assert len(oof) == len(files) and all("code" not in row for row in oof)
    assert "## Whole files" in (tmp_path / "model" / "README.md").read_text()
    long_file = files.codes[0]
    (judged,) = scorer.score_batch([Snippet(code=long_file, language=files.languages[0])])
    assert len(judged.units) > 1 and judged.language == files.languages[0]

    # A run that fails half-way (here: more folds than packages, after the signals and the
    # embeddings) leaves the model it would have replaced as it was, and no staging debris.
    def files() -> dict[str, bytes]:
        root = tmp_path / "model"
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    before = files()
    with pytest.raises(ValueError, match="n_splits"):
        train(data, tmp_path / "model", n_splits=50, progress=False)
    assert files() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    again = Scorer.load(str(tmp_path / "model")).score_batch([Snippet(code=TEXTBOOK)])[0]
    assert again.score == book.score


@pytest.fixture(scope="module")
def files_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Whole files of the slice's packages (requests' GitHub repository is the corpus's
    `requests`) and of two packages the slice lacks."""
    rows = [json.loads(line) for line in FILES.open()]
    picked = [r for r in rows if r["package"] == "gh_psf_requests"][:4]
    picked += [r for r in rows if r["package"] == "gh_TheAlgorithms_Python"][:4]
    picked += [r for r in rows if r["language"] == "yaml"][:2]
    path = tmp_path_factory.mktemp("files") / "files.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in picked))
    return path


def test_a_github_repository_is_the_same_group_as_its_release() -> None:
    groups = {"requests", "more_itertools", "gh_libuv_libuv"}
    assert corpus_group("gh_psf_requests", groups) == "requests"
    assert corpus_group("gh_more-itertools_more-itertools", groups) == "more_itertools"
    assert corpus_group("gh_libuv_libuv", groups) == "gh_libuv_libuv"
    assert corpus_group("gh_someone_unknown", groups) == "gh_someone_unknown"


def out_fast_f1(tmp_path: Path) -> float:
    return json.loads((tmp_path / "model" / "fast" / "metadata.json").read_text())["cv"]["f1_keep"]


def test_evaluate_writes_report(slice_path: Path, tmp_path: Path) -> None:
    from .conftest import MODEL_DIR

    metrics = evaluate(slice_path, model_dir=str(MODEL_DIR), out_dir=tmp_path, progress=False)
    assert metrics["n"] == 180 and metrics["mode"] == "holdout"
    # A slice is not the data the model was trained on, and evaluate says so (with both hashes).
    trained = json.loads((MODEL_DIR / "metadata.json").read_text())["training_data"]["sha256"]
    assert metrics["model_training_data_sha256"] == trained
    assert metrics["trained_on_this_data"] is False
    assert "trained on other data" in training_data_note(metrics)
    assert "trained on this data" in training_data_note({**metrics, "trained_on_this_data": True})
    for name in ("report.json", "confusion.png", "score_vs_label.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "report.json").read_text())["f1_keep"] == metrics["f1_keep"]
    # Formats as the model detected them: the slice holds Python units and YAML workflows.
    per_format = metrics["per_format"]
    assert {"python", "yaml"} <= set(per_format)
    assert sum(v["n"] for v in per_format.values()) == 180
    assert sum(v["n_keep_pred"] for v in per_format.values()) == metrics["n_keep_pred"]


def test_finetune_tunes_per_fold_then_ships_its_encoder(slice_path: Path, tmp_path: Path) -> None:
    """--finetune: one tuning per outer fold on its training packages only, one on all data;
    the model directory carries the tuned encoder and serving loads it."""
    import torch
    from safetensors import safe_open

    from eduscore.scoring.embedding import Embedder, weights_sha256
    from eduscore.training.finetune import DONE_MARKER, FinetuneConfig

    rows = slice_path.read_text().splitlines(keepends=True)[::3]
    (tmp_path / "small.jsonl").write_text("".join(rows))
    data = read_labelled(tmp_path / "small.jsonl")
    cfg = FinetuneConfig(epochs=1, max_seq_length=64, batch_size=8)
    cache = tmp_path / "cache"
    train(
        data, tmp_path / "model", n_splits=2, cache_dir=cache, finetune=cfg, fast=False,
        progress=False,
    )  # fmt: skip
    meta = json.loads((tmp_path / "model" / "metadata.json").read_text())
    enc = meta["encoder"]
    base = Embedder("")
    assert enc["path"] == "encoder" and enc["finetune"]["epochs"] == 1
    # Named apart from a frozen model trained the same day on the same data.
    version = meta["model_version"]
    assert version.startswith(f"edu-{data.sha256[:8]}-") and version.endswith("-tuned")
    assert enc["base"]["sha256"] == base.sha256
    assert enc["sha256"] == weights_sha256(tmp_path / "model" / "encoder") != base.sha256
    runs = sorted(
        json.loads(marker.read_text())["n_units"] for marker in cache.glob(f"*/{DONE_MARKER}")
    )
    # One run per outer fold, on that fold's training packages, then one on all data.
    assert len(runs) == 3 and runs[-1] == len(data) and runs[0] < len(data)
    scorer = Scorer.load(str(tmp_path / "model"))
    assert scorer.embedder.sha256 == enc["sha256"] and scorer.embedder.max_seq_length == 64
    tuned = scorer.embedder.encode([TEXTBOOK]).vectors
    assert float(np.dot(tuned[0], base.encode([TEXTBOOK]).vectors[0])) < 0.9999
    # Shipped in fp16 (half the bytes a retrain commits), served in fp32, and within fp16
    # rounding of the fp32 run it was cut from.
    with safe_open(str(tmp_path / "model" / "encoder" / "model.safetensors"), "pt") as fh:
        assert {fh.get_slice(k).get_dtype() for k in fh.keys()} == {"F16"}  # noqa: SIM118
    assert {p.dtype for p in scorer.embedder._model.parameters()} == {torch.float32}
    markers = cache.glob(f"*/{DONE_MARKER}")
    (final,) = [m.parent for m in markers if json.loads(m.read_text())["n_units"] == len(data)]
    assert np.abs(tuned - Embedder(str(final)).encode([TEXTBOOK]).vectors).max() < 2e-3
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


def test_calibration_pins_the_keep_line_and_spreads_the_borderline() -> None:
    """score >= 3.0 exactly when raw >= cut; the borderline range maps raw outputs onto 2.5-3.5
    so other thresholds trade recall for precision gradually; the map is monotone."""
    from eduscore.scoring.calibration import BoundaryCalibration
    from eduscore.training.heads import fit_calibration

    rng = np.random.default_rng(0)
    labels = np.clip(np.round(rng.normal(2.2, 1.0, 2000)), 0, 5)
    raw = 0.5 * labels + 1.2 + rng.normal(0, 0.35, labels.size)  # shrunk toward the mean
    cal = fit_calibration(raw, labels)
    assert cal.borderline_lo is not None and cal.borderline_hi is not None
    assert cal.borderline_lo < cal.c < cal.borderline_hi
    grid = np.linspace(raw.min() - 1, raw.max() + 1, 5001)
    scores = cal.apply(grid)
    assert np.all(np.diff(scores) >= 0) and scores.min() >= 0.0 and scores.max() <= 5.0
    assert np.array_equal(scores >= 3.0, grid >= cal.c)
    assert cal.apply([cal.borderline_lo, cal.borderline_hi]) == pytest.approx([2.5, 3.5])
    # Inside the range a threshold moves units gradually: 2.75 and 3.25 keep different sets.
    kept = {t: int((cal.apply(raw) >= t).sum()) for t in (2.5, 2.75, 3.0, 3.25, 3.5)}
    assert kept[2.5] > kept[2.75] > kept[3.0] > kept[3.25] > kept[3.5]
    # Saved and read back as JSON; a file from before the range still loads (and has none).
    again = BoundaryCalibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert np.array_equal(again.apply(grid), scores)
    old = {k: v for k, v in cal.to_dict().items() if not k.startswith("borderline")}
    assert BoundaryCalibration.from_dict(old).borderline_lo is None
    with pytest.raises(ValueError, match="borderline"):
        BoundaryCalibration.from_dict({**cal.to_dict(), "borderline_hi": cal.c - 0.1})


def test_training_builds_the_signals_the_scorer_serves(tmp_path: Path) -> None:
    """A unit's language reaches the training signals exactly as a request's hint reaches the
    served ones: taken where the text allows it (untyped code in a .ts file is TypeScript),
    overruled where it does not (Python labelled YAML is Python)."""
    from eduscore.scoring.embedding import Embedder
    from eduscore.scoring.scorer import feature_matrix
    from eduscore.training.designs import build_design
    from eduscore.training.heads import N_SIGNALS

    untyped = "export function twice(x) {\n  return x * 2;\n}\n"
    rows = [
        {"id": "t", "code": untyped, "label": 2, "language": "typescript", "package": "p"},
        {"id": "y", "code": TEXTBOOK, "label": 4, "language": "yaml", "package": "p"},
    ]
    (tmp_path / "two.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = read_labelled(tmp_path / "two.jsonl")
    x = build_design(Embedder(""), data, progress=False)
    served = feature_matrix([features.extract(untyped, "ts"), features.extract(TEXTBOOK, "yaml")])
    assert np.array_equal(x[:, :N_SIGNALS], served)
    assert features.extract(untyped, "typescript") != features.extract(untyped, "")  # taken
    assert features.extract(TEXTBOOK, "yaml") == features.extract(TEXTBOOK, "")  # overruled
