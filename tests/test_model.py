"""Model files: loaded without pickle, refused with a clear error when wrong or tampered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eduscore.errors import ModelLoadError
from eduscore.scoring import model, trees
from eduscore.training import compile as compile_head

from .conftest import MODEL_DIR


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "m"
    shutil.copytree(MODEL_DIR, dst)
    return dst


def test_shipped_model_loads_and_predicts_on_scale() -> None:
    head = model.load(MODEL_DIR)
    meta = head.metadata
    n = meta["encoder"]["dim"] + len(meta["feature_names"])
    scores = head.predict(np.random.default_rng(0).normal(size=(5, n)).astype(np.float32))
    assert scores.shape == (5,) and np.all((scores >= 0) & (scores <= 5))
    for key in ("sha256", "n_units"):
        assert meta["training_data"][key]
    for key in ("f1_keep", "spearman", "mae", "precision_keep", "confusion", "per_fold"):
        assert key in meta["cv"]


def test_serving_never_imports_scikit_learn_or_skops() -> None:
    """The full head loads from its arrays: no scikit-learn object is ever deserialised."""
    code = (
        "import sys; from eduscore.scoring import model\n"
        f"model.load({str(MODEL_DIR)!r})\n"
        "print(sorted(m for m in ('sklearn', 'skops') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def test_the_full_tier_runs_exactly_the_trained_estimator(scorer) -> None:
    """The compiled full head (numpy) predicts bit for bit what the skops estimator predicts,
    on the designs of 300 corpus units (real encoder embeddings, real signals)."""
    from eduscore.scoring.scorer import Snippet, design_matrix

    from .test_tiers import corpus_snippets

    codes = [s.code for s in corpus_snippets(300, step=23)]
    tier = scorer.tier_model("full")
    signals = scorer.signals([Snippet(code=c) for c in codes])
    x = design_matrix(tier.embedder.encode(codes).vectors, signals, tier.head.feature_names)
    estimator = compile_head.load_estimator(MODEL_DIR / model.HEAD_FILE)
    compiled = tier.head.estimator
    assert isinstance(compiled, trees.CompiledHead)
    assert np.array_equal(compiled.predict(x), estimator.predict(x))
    # And through the served path: the same calibrated scores, 0-5.
    scores = tier.head.predict(x)
    assert np.array_equal(
        scores, model.Head(estimator, tier.head.metadata, tier.head.calibration).predict(x)
    )


def test_missing_dir_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=str(tmp_path / "nope")):
        model.load(tmp_path / "nope")


def test_corrupt_head_is_refused(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    (d / trees.ARRAYS_FILE).write_bytes(b"not a zip file")
    with pytest.raises(ModelLoadError, match="compiled head"):
        model.load(d)


class _RunsCode:
    """Unpickled, it would run a shell command: what a tampered model file could carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_a_head_npz_carrying_a_pickle_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    d, marker = _copy(tmp_path), tmp_path / "ran"
    with np.load(d / trees.ARRAYS_FILE) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["m0.value"] = np.array([_RunsCode(marker)], dtype=object)  # saved as a pickle
    np.savez(d / trees.ARRAYS_FILE, **arrays)
    with pytest.raises(ModelLoadError, match="cannot read the compiled head"):
        model.load(d)
    # The server refuses it at start-up, with one line naming the file, and runs nothing.
    out = subprocess.run(
        [sys.executable, "-m", "eduscore", "serve", "--model-dir", str(d), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode == 1, out.stderr
    assert "eduscore serve:" in out.stderr and "compiled head" in out.stderr
    assert "Traceback" not in out.stderr and not marker.exists()


def test_a_head_json_naming_code_is_refused(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    spec = json.loads((d / trees.SPEC_FILE).read_text())
    (d / trees.SPEC_FILE).write_text(json.dumps({**spec, "format": "builtins.exec"}))
    with pytest.raises(ModelLoadError, match="format is not eduscore-trees/1"):
        model.load(d)


@pytest.mark.parametrize(
    ("payload", "named"),
    # os.system is posix.system on Linux: the name skops writes, and the loader refuses.
    [({"predict": os.system}, f"{os.system.__module__}.system"), ([exec], "builtins.exec")],
)
def test_a_skops_file_naming_code_is_refused_before_loading(
    tmp_path: Path, payload: object, named: str
) -> None:
    """Re-compiling a model reads head.skops with an allow-list of exactly a head's types."""
    import skops.io as sio

    d = _copy(tmp_path)
    sio.dump(payload, d / model.HEAD_FILE)
    with pytest.raises(ModelLoadError, match="types a head is not made of") as err:
        compile_head.recompile(d)
    assert named in str(err.value)


def test_a_skops_node_that_calls_code_is_refused_whatever_type_it_claims(tmp_path: Path) -> None:
    """A hand-made schema: a node claiming to be a dict, rebuilt by skops as a function."""
    import zipfile

    d = _copy(tmp_path)
    node = {"__class__": "dict", "__module__": "builtins", "__loader__": "FunctionNode"}
    schema = {**node, "content": {"module_path": "os", "function": "system"}, "protocol": 2}
    with zipfile.ZipFile(d / model.HEAD_FILE, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    with pytest.raises(ModelLoadError, match="types a head is not made of") as err:
        compile_head.load_estimator(d / model.HEAD_FILE)
    assert "loader:FunctionNode" in str(err.value) and "os.system" in str(err.value)


@pytest.mark.parametrize("tier_dir", [".", "fast"])
def test_the_shipped_arrays_are_compiled_from_the_shipped_estimator(
    tmp_path: Path, tier_dir: str
) -> None:
    """head.npz is derived from head.skops: re-compiling a copy gives the same arrays."""
    if not (MODEL_DIR / tier_dir / model.HEAD_FILE).exists():
        pytest.skip(f"the shipped model has no {tier_dir}/ tier")
    d = _copy(tmp_path) / tier_dir
    assert compile_head.main([str(d)]) == 0
    spec = trees.SPEC_FILE
    assert (d / spec).read_text() == (MODEL_DIR / tier_dir / spec).read_text()
    with (
        np.load(d / trees.ARRAYS_FILE) as new,
        np.load(MODEL_DIR / tier_dir / trees.ARRAYS_FILE) as old,
    ):
        assert sorted(new.files) == sorted(old.files)
        for key in new.files:
            assert np.array_equal(new[key], old[key]), key


@pytest.mark.parametrize("tier_dir", [".", "fast"])
def test_each_tier_records_the_calibration_it_ships(tier_dir: str) -> None:
    """The card reads the keep line from metadata: it must be that tier's, not the full tier's."""
    d = MODEL_DIR / tier_dir
    if not (d / model.HEAD_FILE).exists():
        pytest.skip(f"the shipped model has no {tier_dir}/ tier")
    shipped = json.loads((d / "calibration.json").read_text())
    recorded = json.loads((d / "metadata.json").read_text())["calibration"]
    assert recorded["cut"] == shipped["c"]
    assert recorded["borderline"] == [shipped["borderline_lo"], shipped["borderline_hi"]]


def test_wrong_format_version_is_refused(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    meta = json.loads((d / model.METADATA_FILE).read_text())
    meta["format_version"] = 99
    (d / model.METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="format_version"):
        model.load(d)


def test_encoder_mismatch_is_refused(tmp_path: Path) -> None:
    head = model.load(MODEL_DIR)
    enc = head.metadata["encoder"]
    with pytest.raises(ModelLoadError, match="768-d"):
        model.check_compatible(
            head,
            encoder_name="other",
            encoder_dim=768,
            encoder_sha256=enc["sha256"],
            feature_names=head.feature_names,
        )
    with pytest.raises(ModelLoadError, match="--encoder"):
        model.check_compatible(
            head,
            encoder_name="other",
            encoder_dim=enc["dim"],
            encoder_sha256="0" * 64,
            feature_names=head.feature_names,
        )
