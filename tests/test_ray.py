"""EduScoreFilter on a real local Ray: actors score like the service, in every batch format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from eduscore.pipelines.ray_data import EduScoreFilter, filter_dataset
from eduscore.serving.client import EduScoreClient, SnippetIn

from .conftest import MODEL_DIR
from .long_files import PY_MODULE
from .snippets import CI_YAML, GENERATED, SETTINGS, SMALL, TEXTBOOK

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

ROWS: list[dict[str, Any]] = [
    {"id": f"r{i}", "code": code}
    for i, code in enumerate([TEXTBOOK, SETTINGS, GENERATED, CI_YAML, *SMALL])
]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # Ray gives its raylet a fixed 30 s to register; on 2 busy cores (the session's servers
    # running beside it) that start-up once timed out in a clean-clone CI run. One more try
    # tells a slow start from a broken install, which fails again.
    for attempt in (1, 2):
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            break
        except Exception as exc:
            ray.shutdown()
            if attempt == 2 or "timed out during startup" not in str(exc):
                raise
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def served(server) -> dict[str, float]:
    with EduScoreClient(server.address) as client:
        results = client.score_batch(SnippetIn(code=r["code"], id=r["id"]) for r in ROWS)
    return {r.id: r.score for r in results}


@pytest.fixture(scope="module")
def edu_filter() -> EduScoreFilter:
    return EduScoreFilter(threshold=3.0)


def test_actor_pool_keeps_what_the_service_keeps(local_ray, served) -> None:
    ds = ray.data.from_items(ROWS)
    kept = sorted(
        filter_dataset(ds, concurrency=2, batch_size=3, threshold=3.0).take_all(),
        key=lambda r: r["id"],
    )
    assert [r["id"] for r in kept] == sorted(i for i, s in served.items() if s >= 3.0)
    assert 0 < len(kept) < len(ROWS)  # the snippets straddle the threshold
    for row in kept:
        assert row["edu_score"] == pytest.approx(served[row["id"]], abs=1e-6), row["id"]
        assert row["edu_keep"] and row["code"] == ROWS[int(row["id"][1:])]["code"]


def test_map_batches_with_numpy_batches(local_ray, served) -> None:
    ds = ray.data.from_items(ROWS).map_batches(
        EduScoreFilter,
        fn_constructor_kwargs={"threshold": 1.0},
        compute=ray.data.ActorPoolStrategy(size=1),
        batch_size=5,
        batch_format="numpy",
    )
    rows = ds.take_all()
    assert len(rows) == len(ROWS)
    for row in rows:
        assert row["edu_score"] == pytest.approx(served[row["id"]], abs=1e-6)
        assert bool(row["edu_keep"]) == (row["edu_score"] >= 1.0)


def test_formats_and_invalid_rows_without_ray(edu_filter: EduScoreFilter, served) -> None:
    codes = [r["code"] for r in ROWS] + ["", None]
    table = edu_filter(pa.table({"code": codes}))
    assert table.column_names == ["code", "edu_score", "edu_keep", "edu_label"]
    scores = table.column("edu_score").to_numpy()
    np.testing.assert_allclose(scores[: len(ROWS)], [served[r["id"]] for r in ROWS], atol=1e-6)
    assert np.isnan(scores[-2:]).all() and table.column("edu_label").to_pylist()[-2:] == [-1, -1]
    numpy_out = edu_filter({"code": np.array(codes[:3], dtype=object)})
    np.testing.assert_allclose(numpy_out["edu_score"], scores[:3], atol=1e-6)
    with pytest.raises(KeyError, match="code_column='code'"):
        edu_filter({"text": np.array(["x = 1"])})


def test_the_filter_records_its_tier_and_model(edu_filter: EduScoreFilter, server) -> None:
    with EduScoreClient(server.address) as client:
        version = client.model_info().model_version
    assert (edu_filter.tier, edu_filter.model_version) == ("full", version)


@pytest.mark.skipif(
    not (MODEL_DIR / "fast" / "metadata.json").exists(),
    reason="the shipped model has no fast tier (models/current/fast/) yet",
)
def test_fast_tier_loads_no_encoder_and_scores_like_the_servers_fast_tier(server) -> None:
    with EduScoreClient(server.address) as client:
        fast = client.score_batch([SnippetIn(code=r["code"]) for r in ROWS], tier="fast")
    quick = EduScoreFilter(threshold=3.0, tier="fast")
    assert quick.tier == "fast" and quick.scorer.full is None  # no encoder, no transformer
    out = quick({"code": np.array([r["code"] for r in ROWS], dtype=object)})
    np.testing.assert_allclose(out["edu_score"], [r.score for r in fast], atol=1e-6)


def test_units_column_in_every_batch_format(server) -> None:
    from eduscore.pipelines.rowio import units_type
    from eduscore.pipelines.rows import unit_rows

    codes = [PY_MODULE, TEXTBOOK, None]
    with EduScoreClient(server.address) as client:
        served = client.score_batch([SnippetIn(c) for c in codes[:2]], units=True)
    want = [unit_rows(r.units) for r in served] + [None]
    assert want[0] and want[1] == []  # the file has units, the snippet none
    with_units = EduScoreFilter(threshold=3.0, units=True)
    table = with_units(pa.table({"code": codes}))
    assert table.column_names == ["code", "edu_score", "edu_keep", "edu_label", "edu_units"]
    assert table.column("edu_units").type == units_type()
    frame = with_units(table.select(["code"]).to_pandas())
    numpy_out = with_units({"code": np.array(codes, dtype=object)})
    for got in (
        table.column("edu_units").to_pylist(),
        list(frame["edu_units"]),
        list(numpy_out["edu_units"]),
    ):
        assert [None if g is None else [u["name"] for u in g] for g in got] == [
            None if w is None else [u["name"] for u in w] for w in want
        ]
        assert [u["score"] for u in got[0]] == pytest.approx(
            [u["score"] for u in want[0]], abs=1e-6
        )
    np.testing.assert_allclose(numpy_out["edu_score"][:2], [r.score for r in served], atol=1e-6)
