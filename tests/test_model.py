"""Model files: loaded without pickle, refused with a clear error when wrong or tampered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from eduscore.errors import ModelLoadError
from eduscore.scoring import model

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


def test_missing_dir_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=str(tmp_path / "nope")):
        model.load(tmp_path / "nope")


def test_corrupt_head_is_refused(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    (d / model.HEAD_FILE).write_bytes(b"not a zip file")
    with pytest.raises(ModelLoadError, match=r"head\.skops"):
        model.load(d)


def test_untrusted_types_are_refused(tmp_path: Path) -> None:
    import skops.io as sio

    d = _copy(tmp_path)
    # An object of a type outside scikit-learn/numpy: loading it could run its code.
    sio.dump({"predict": Path("/tmp")}, d / model.HEAD_FILE)
    with pytest.raises(ModelLoadError, match="untrusted"):
        model.load(d)


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
