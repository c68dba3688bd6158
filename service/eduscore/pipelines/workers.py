"""The in-process Scorer of `eduscore filter`, in this process or in each of a pool of processes.

A pool worker loads its Scorer once, in the pool's initializer, then scores chunk after chunk
and sends back only a Judgement (score, keep, label; units when asked) per row: the output
needs nothing more, and the signals of every row would cost more to pickle than the fast tier
takes to score them.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eduscore.pipelines.rows import Judgement, unit_rows

_scorer: Any = None  # this worker's Scorer, once loaded
_failure: BaseException | None = None  # why it did not load, re-raised by every task


@dataclass(frozen=True, slots=True)
class Recipe:
    """How to load the Scorer: picklable, so each worker loads its own."""

    model_dir: str
    tier: str
    encoder: str = ""
    threshold: float = 3.0
    batch_size: int = 64
    torch_threads: int = 0
    device: str = "auto"

    def load(self) -> Any:
        from eduscore.scoring.scorer import Scorer

        return Scorer.load(
            self.model_dir,
            tier=self.tier,
            encoder=self.encoder,
            threshold=self.threshold,
            batch_size=self.batch_size,
            torch_threads=self.torch_threads,
            device=self.device,
        )


def default_workers(tier: str) -> int:
    """Every usable core for the fast tier; one process otherwise (torch already uses them all)."""
    if tier != "fast":
        return 1
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def score_chunk(
    scorer: Any,
    snippets: Sequence[tuple[str, str, str]],
    threshold: float,
    tier: str,
    units: bool = False,
) -> list[Judgement]:
    """The Judgement of each (id, code, language), in order; with `units`, their units too."""
    from eduscore.scoring.scorer import Snippet

    results = scorer.score_batch(
        [Snippet(id=i, code=c, language=lang, tier=tier) for i, c, lang in snippets], threshold
    )
    return [
        Judgement(r.score, r.keep, r.label, unit_rows(r.units) if units else None) for r in results
    ]


def init_worker(recipe: Recipe) -> None:
    """Pool initializer: load the Scorer once. A failure is kept and raised by each task, so the
    parent gets the real error (a raising initializer only breaks the pool)."""
    global _scorer, _failure
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the pool is the parallelism
    try:
        _scorer = recipe.load()
        _scorer.warmup()
    except Exception as exc:
        _failure = exc
        return
    try:  # one BLAS/OpenMP thread per worker: the pool is what uses the cores
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass


def _loaded() -> Any:
    if _failure is not None:
        raise _failure
    return _scorer


def worker_model_version() -> str:
    """The worker's model version (raises its load error): the parent's first call."""
    return str(_loaded().model_version)


def worker_score(
    snippets: Sequence[tuple[str, str, str]], threshold: float, tier: str, units: bool = False
) -> list[Judgement]:
    """One task: a chunk scored by this worker's Scorer."""
    return score_chunk(_loaded(), snippets, threshold, tier, units)
