"""EduScoreFilter: score a Ray Dataset on a pool of actors, each loading its Scorer once.

`ray` is an optional extra (`pip install 'eduscore[ray]'`); it is imported only by
`filter_dataset`, so the callable itself also works on plain pandas/pyarrow/numpy batches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore.config import DEFAULT_THRESHOLD, default_model_dir
from eduscore.pipelines.rowio import units_type
from eduscore.pipelines.rows import EDU_UNITS, invalid_reason, language_hint, unit_rows
from eduscore.scoring.scorer import Scorer, Snippet

EDU_COLUMNS = ("edu_score", "edu_keep", "edu_label")


def _require_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:  # name the extra, as datatrove's _requires_dependencies does
        raise ImportError(
            "eduscore.pipelines.ray_data needs Ray Data: pip install 'eduscore[ray]'"
            " (or pip install 'ray[data]')"
        ) from exc
    return ray


class EduScoreFilter:
    """Adds `edu_score`, `edu_keep`, `edu_label` (and, with `units=True`, `edu_units`) to a
    batch; pass the class to `map_batches`.

    Ray Data builds one instance per actor, so the encoder and head load once per actor rather
    than once per batch. Rows whose code the server would refuse (null, empty, NUL bytes, over
    1 MB) get `edu_score=NaN`, `edu_keep=False`, `edu_label=-1` instead of failing the batch.

    Example:
        ds = ray.data.read_parquet("snippets/")
        scored = ds.map_batches(
            EduScoreFilter,
            fn_constructor_kwargs={"threshold": 3.0, "code_column": "content"},
            concurrency=4,  # actors; or compute=ray.data.ActorPoolStrategy(size=4)
            batch_size=64,
            num_cpus=1,  # Ray then sets OMP_NUM_THREADS=1, so torch uses one thread per actor
        )
        kept = scored.filter(lambda row: row["edu_keep"])

    Args:
        model_dir: trained classifier directory; default the shipped model.
        encoder: sentence-transformers directory; default the one the head was trained with.
        threshold: keep threshold on the 0-5 scale; default `config.DEFAULT_THRESHOLD`.
        code_column: the column holding the code.
        language_column: optional column of language hints ('' = detect).
        batch_size: snippets per encoder call inside one Ray batch.
        torch_threads: intra-op threads per actor (0: PyTorch's default, which follows the
            actor's `num_cpus` through OMP_NUM_THREADS).
        tier: "full" (the encoder), "fast" (static embeddings: no encoder, no torch; needs a
            model with a fast tier) or "cascade". `self.tier` and `self.model_version` say
            what scored.
        units: add `edu_units`: each row's units (a list of {kind, name, start_line, end_line,
            language, score, keep}) when it is longer than one unit (3,000 characters), an
            empty list otherwise (None for an invalid row), so a pipeline can keep the good
            functions of a mediocre file.
    """

    def __init__(
        self,
        model_dir: str = "",
        encoder: str = "",
        threshold: float | None = None,
        code_column: str = "code",
        language_column: str = "",
        batch_size: int = 32,
        torch_threads: int = 0,
        tier: str = "full",
        units: bool = False,
    ) -> None:
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        if not 0.0 <= self.threshold <= 5.0:
            raise ValueError(f"threshold={self.threshold} is outside the label scale 0..5")
        self.code_column = code_column
        self.language_column = language_column
        self.scorer = Scorer.load(
            model_dir or default_model_dir(),
            encoder=encoder,
            threshold=self.threshold,
            batch_size=batch_size,
            torch_threads=torch_threads,
            tier=tier,
        )
        self.tier, self.units = tier, units
        self.model_version = self.scorer.model_version

    def score(
        self, codes: list[Any], languages: list[Any] | None = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """Scores, keep decisions and labels of `codes`, as columns."""
        columns = self.columns(codes, languages)
        return columns["edu_score"], columns["edu_keep"], columns["edu_label"]

    def columns(self, codes: list[Any], languages: list[Any] | None = None) -> dict[str, Any]:
        """The edu columns of `codes` by name; `edu_units` (an object array of lists) only
        with `units=True`."""
        n = len(codes)
        scores = np.full(n, np.nan)
        keep = np.zeros(n, dtype=bool)
        labels = np.full(n, -1, dtype=np.int64)
        langs = languages if languages is not None else [""] * n
        valid = [i for i, c in enumerate(codes) if invalid_reason(c) is None]
        results = self.scorer.score_batch(
            [Snippet(code=codes[i], language=language_hint(langs[i])) for i in valid],
            self.threshold,
        )
        for i, r in zip(valid, results, strict=True):
            scores[i], keep[i], labels[i] = r.score, r.keep, r.label
        out: dict[str, Any] = dict(zip(EDU_COLUMNS, (scores, keep, labels), strict=True))
        if self.units:
            units = np.full(n, None, dtype=object)
            for i, r in zip(valid, results, strict=True):
                units[i] = unit_rows(r.units)
            out[EDU_UNITS] = units
        return out

    def __call__(self, batch: Any) -> Any:
        """Score a pandas DataFrame, pyarrow Table or dict of numpy arrays; same type back."""
        if isinstance(batch, Mapping):  # batch_format="numpy" (Ray's default)
            columns = self.columns(
                list(batch[self._column(batch.keys())]), self._languages(batch, batch.keys())
            )
            return {**batch, **columns}
        if type(batch).__module__.startswith("pyarrow"):
            import pyarrow as pa

            names = batch.column_names
            codes = batch.column(self._column(names)).to_pylist()
            langs = (
                batch.column(self.language_column).to_pylist()
                if self.language_column in names
                else None
            )
            for name, values in self.columns(codes, langs).items():
                kind = units_type() if name == EDU_UNITS else None
                column = pa.array(list(values) if kind else values, kind)
                batch = batch.append_column(name, column)
            return batch
        if type(batch).__module__.startswith("pandas"):
            codes = batch[self._column(batch.columns)].tolist()
            out = batch.copy(deep=False)  # the input may be a zero-copy, read-only view
            langs = self._languages(batch, batch.columns)
            for name, values in self.columns(codes, langs).items():
                out[name] = values
            return out
        raise TypeError(f"unsupported batch type {type(batch).__name__}: use pandas/pyarrow/numpy")

    def _column(self, names: Any) -> str:
        if self.code_column not in names:
            raise KeyError(f"code_column={self.code_column!r} is not in the batch: {list(names)}")
        return self.code_column

    def _languages(self, batch: Any, names: Any) -> list[Any] | None:
        if self.language_column and self.language_column in names:
            return list(batch[self.language_column])
        return None


def filter_dataset(
    ds: Any,
    *,
    concurrency: int | tuple[int, int] = 2,
    batch_size: int = 64,
    keep_only: bool = True,
    num_cpus: float = 1,
    **filter_kwargs: Any,
) -> Any:
    """`ds` scored by a pool of `concurrency` EduScoreFilter actors (kept rows only by default).

    Args:
        ds: a `ray.data.Dataset` with a code column.
        concurrency: actors, or (min, max) for an autoscaling pool.
        batch_size: rows per Ray batch.
        keep_only: drop rows below the threshold (else return every row with the columns).
        num_cpus: CPUs reserved per actor; torch then runs that many threads.
        **filter_kwargs: EduScoreFilter's arguments (model_dir, threshold, tier, code_column...).
    """
    ray = _require_ray()
    size = concurrency if isinstance(concurrency, tuple) else (concurrency, concurrency)
    scored = ds.map_batches(
        EduScoreFilter,
        fn_constructor_kwargs=filter_kwargs,
        compute=ray.data.ActorPoolStrategy(min_size=size[0], max_size=size[1]),
        batch_size=batch_size,
        batch_format="pandas",
        num_cpus=num_cpus,
    )
    if not keep_only:
        return scored
    try:  # a predicate expression runs on Arrow natively, without a Python call per row
        from ray.data.expressions import col, lit
    except ImportError:
        return scored.filter(lambda row: bool(row["edu_keep"]))
    return scored.filter(expr=col("edu_keep") == lit(True))
