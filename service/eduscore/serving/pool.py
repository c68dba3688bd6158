"""Worker processes that score fast-tier snippets: the fast tier at the machine's full width.

The fast tier's work (signals, static table, head) is Python and numpy under the GIL, so in the
server's own process it gets one core. Each PoolWorker is one spawned process that loads the
fast tier once (no torch, no scikit-learn) and scores the batches it is sent, one at a time.
The batcher (serving/batching.py) gives each worker a lane of its own, so its queue, deadlines,
cancellation, cache and metrics apply unchanged. The interface is the Scorer's: a list of
Snippet in, a list of ScoredSnippet out (whole files, split into units, come as snippets too).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from eduscore import metrics
from eduscore.errors import ModelLoadError, ShuttingDown

if TYPE_CHECKING:
    from eduscore.scoring.scorer import ScoredSnippet, Snippet

log = logging.getLogger(__name__)

#: Longest a worker may take to load and warm its model before it counts as failed.
START_TIMEOUT_S = 120.0


class WorkerLost(ShuttingDown):
    """A worker process died (or was killed as hung) holding a batch: its items are answered
    UNAVAILABLE and the worker is replaced."""


def default_workers(tier: str) -> int:
    """Every usable core for a fast-only server; none otherwise, where torch already uses them
    all and the fast tier's requests are a side line (bench/README.md, session 12)."""
    if tier != "fast":
        return 0
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class WorkerRecipe:
    """What a worker needs to load its model and log like the server: picklable."""

    model_dir: str
    threshold: float = 3.0
    log_level: str = "INFO"
    log_format: str = "text"


class PoolWorker:
    """One worker process and its pipe; `score_units` from one thread at a time (its lane),
    `kill` from any (the watchdog).

    Args:
        recipe: how the process loads its fast-only Scorer.
        index: its number in the pool, for names and messages.
    """

    def __init__(self, recipe: WorkerRecipe, index: int) -> None:
        self.recipe = recipe
        self.index = index
        self._ctx = multiprocessing.get_context("spawn")  # never fork a process running gRPC
        self._process: Any = None
        self._conn: Connection | None = None
        self.model_version = ""

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def warmup(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the process; return once its model is loaded and warm.

        Raises:
            ModelLoadError: it could not load the model (its reason), died or timed out.
        """
        ours, theirs = self._ctx.Pipe()
        process = self._ctx.Process(
            target=serve, args=(theirs, self.recipe), name=f"eduscore-worker-{self.index}"
        )
        process.daemon = True  # never outlives the server, whatever stops it
        process.start()
        theirs.close()
        self._process, self._conn = process, ours
        try:
            ready = ours.poll(timeout_s)
            kind, payload = ours.recv() if ready else ("failed", f"not ready in {timeout_s:.0f} s")
        except (EOFError, OSError):
            process.join(5)
            kind, payload = "failed", f"exited with code {process.exitcode} while loading"
        if kind != "ready":
            self.stop()
            raise ModelLoadError(f"pool worker {self.index} cannot score: {payload}")
        self.model_version = payload
        metrics.pool_workers.inc()

    def score_units(self, snippets: Sequence[Snippet]) -> list[ScoredSnippet]:
        """The results of `snippets`, in order, scored in the worker process.

        Raises:
            WorkerLost: the process died (or was killed) before answering.
            Exception: what the worker's Scorer raised for this batch.
        """
        conn = self._conn
        try:
            if conn is None:
                raise EOFError
            conn.send(list(snippets))
            kind, payload, signal_errors = conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerLost(
                f"scoring worker {self.index} (pid {self.pid}) stopped while scoring this"
                " snippet; it is being replaced: retry"
            ) from exc
        for label, n in signal_errors.items():  # counted in the worker, reported here
            metrics.signal_errors.labels(label).inc(n)
        if kind == "error":
            raise payload
        return payload  # type: ignore[no-any-return]

    def kill(self) -> None:
        """SIGKILL the process (a hung worker): its lane gets WorkerLost and replaces it."""
        pid = self.pid
        if pid is not None and self.alive:
            os.kill(pid, signal.SIGKILL)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close the pipe (the worker exits when it reads its end) and reap the process."""
        conn, process = self._conn, self._process
        self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            if process.pid is not None:
                process.join(timeout_s)
                if process.is_alive():
                    process.kill()
                    process.join(timeout_s)
            if self.model_version:
                metrics.pool_workers.dec()
                self.model_version = ""
        self._process = None

    def restart(self) -> None:
        """Replace a dead process with a fresh one (raises ModelLoadError if that fails)."""
        self.stop()
        self.warmup()


# ---- the worker process -------------------------------------------------------------------


def _signal_error_counts() -> dict[str, float]:
    return {
        sample.labels["language"]: sample.value
        for family in metrics.signal_errors.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def serve(conn: Connection, recipe: WorkerRecipe) -> None:
    """A worker process's life: load the fast tier, say ready, score each batch it is sent,
    exit when the pipe closes. Errors of a batch go back to the server with the batch."""
    # Ctrl-C reaches the whole process group; the server drains, then closes the pipes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # the pool is the parallelism
    from eduscore import logs

    logs.setup(recipe.log_level, recipe.log_format)
    try:
        from eduscore.scoring.scorer import Scorer

        scorer = Scorer.load(recipe.model_dir, tier="fast", threshold=recipe.threshold)
        _one_thread()
        scorer.warmup()
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", scorer.model_version))
    while True:
        try:
            snippets = conn.recv()
        except (EOFError, OSError):
            return  # the server closed the pipe or is gone
        before = _signal_error_counts()
        try:
            reply: tuple[str, Any] = ("ok", scorer.score_units(snippets))
        except Exception as exc:  # the batch fails, not the worker
            reply = ("error", _portable(exc))
        after = _signal_error_counts()
        errors = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}
        conn.send((*reply, errors))


def _one_thread() -> None:
    """One BLAS/OpenMP thread per worker: the pool is what uses the cores."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass


def _portable(exc: Exception) -> Exception:
    """`exc` if it survives pickling, else a RuntimeError carrying its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
