"""One `eduscore filter` run: validate, resume from the checkpoint, score in order, write."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eduscore.pipelines.backends import LocalBackend, RemoteBackend, empty_result
from eduscore.pipelines.checkpoint import Progress
from eduscore.pipelines.rowio import (
    Chunk,
    JsonlSink,
    ParquetSink,
    count_rows,
    output_schema,
    read_chunks,
)
from eduscore.pipelines.rows import (
    EDU_UNITS,
    INVALID,
    Judgement,
    UsageError,
    format_of,
    invalid_reason,
    language_hint,
)


@dataclass(slots=True, kw_only=True)
class Job:
    """One `eduscore filter` invocation: validated arguments, output paths, calls in flight."""

    args: argparse.Namespace
    in_fmt: str
    out_fmt: str
    output: Path
    state_path: Path
    pending: deque[Any] = field(default_factory=deque)
    since_checkpoint: int = 0  # rows written since the last checkpoint

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Job:
        if not os.path.isfile(args.input):
            raise UsageError(f"--input {args.input}: no such file")
        if args.threshold is not None and not 0.0 <= args.threshold <= 5.0:
            raise UsageError(f"--threshold={args.threshold} is outside the label scale 0..5")
        if args.batch_size < 1 or args.checkpoint_rows < 1 or min(args.inflight, args.workers) < 0:
            raise UsageError(
                "--batch-size and --checkpoint-rows must be >= 1, --inflight and --workers >= 0"
            )
        output = Path(args.output)
        if output.resolve() == Path(args.input).resolve():
            raise UsageError("--output must differ from --input")
        return cls(
            args=args,
            in_fmt=format_of(args.input),
            out_fmt=format_of(args.output),
            output=output,
            state_path=output.with_name(output.name + ".progress.json"),
        )

    def fingerprint(self, model_version: str, threshold: float, tier: str) -> dict[str, Any]:
        """What must not change between a run and its resumption."""
        a, st = self.args, os.stat(self.args.input)
        return {
            "input": str(Path(a.input).resolve()),
            "input_size": st.st_size,
            "input_mtime_ns": st.st_mtime_ns,
            "output_format": self.out_fmt,
            "all": bool(a.all),
            "fields": [a.code_field, a.id_field, a.language_field],
            "threshold": round(float(threshold), 6),
            "model_version": model_version,
            "tier": tier,  # another tier, other scores
            "units": bool(a.units),  # another set of columns
        }

    def execute(self, backend: RemoteBackend | LocalBackend | None = None) -> str:
        """Run to completion (or resume); returns the summary line. Closes `backend`."""
        if self.args.restart:
            self._discard()
        backend = backend or self.make_backend()
        try:
            return self._execute(backend)
        finally:
            backend.close()

    def make_backend(self) -> RemoteBackend | LocalBackend:
        """Connect to the servers, or load the model in-process when none is given."""
        if self.args.server:
            return RemoteBackend(self.args, self.args.server)
        return LocalBackend(self.args)

    def _discard(self) -> None:
        for suffix in (".progress.json", ".partial"):
            self.output.with_name(self.output.name + suffix).unlink(missing_ok=True)
        shutil.rmtree(self.output.with_name(self.output.name + ".parts"), ignore_errors=True)

    def _execute(self, backend: RemoteBackend | LocalBackend) -> str:
        fp = self.fingerprint(backend.model_version, backend.threshold, backend.tier)
        state = Progress.load(self.state_path)
        if state is not None:
            state.fingerprint.setdefault("tier", "full")  # progress from before tiers: full
            state.fingerprint.setdefault("units", False)  # ... and from before units
        if state is not None and state.fingerprint != fp:
            changed = sorted(k for k in fp if state.fingerprint.get(k) != fp[k])
            raise UsageError(
                f"{self.state_path} belongs to another run (differs in {', '.join(changed)});"
                " pass --restart to discard it"
            )
        if state is not None and state.complete and self.output.exists():
            return self._summary(state, 0.0, 0, resumed="already complete")
        if state is None or state.complete:
            state = Progress(fingerprint=fp)
        resumed = f"resumed at row {state.rows_done}" if state.rows_done else ""
        rows_before, t0 = state.rows_done, time.perf_counter()
        sink = self._sink(state.output_pos)
        try:
            self._loop(backend, state, sink)
        finally:
            sink.close()
        seconds = time.perf_counter() - t0
        return self._summary(state, seconds, state.rows_done - rows_before, resumed=resumed)

    def _sink(self, pos: int) -> JsonlSink | ParquetSink:
        if self.out_fmt == "jsonl":
            return JsonlSink(self.output, pos)
        schema = output_schema(self.args.input, self.in_fmt, units=self.args.units)
        return ParquetSink(self.output, pos, schema, units=self.args.units)

    def _loop(self, backend: Any, state: Progress, sink: JsonlSink | ParquetSink) -> None:
        a = self.args
        bar = self._bar(state)
        self.since_checkpoint = 0
        chunks = read_chunks(a.input, self.in_fmt, state.input_pos, a.batch_size, a.code_field)
        submitted = state.rows_done
        try:
            for chunk in chunks:
                valid, snippets = self._snippets(chunk, submitted, backend.max_bytes)
                submitted += len(chunk.rows)
                future = backend.submit(snippets) if snippets else empty_result()
                self.pending.append((chunk, valid, future))
                while len(self.pending) > backend.inflight:
                    self._drain(state, sink, bar)
            while self.pending:
                self._drain(state, sink, bar)
            self._checkpoint(state, sink)
            sink.finish()
            state.complete = True
            state.save(self.state_path)
        finally:
            for _, _, future in self.pending:
                future.cancel()
            bar.close()

    def _bar(self, state: Progress) -> Any:
        from tqdm import tqdm

        return tqdm(
            total=count_rows(self.args.input, self.in_fmt),
            initial=state.rows_done,
            unit="row",
            dynamic_ncols=True,
            disable=self.args.no_progress,
            file=sys.stderr,
        )

    def _checkpoint(self, state: Progress, sink: JsonlSink | ParquetSink) -> None:
        state.output_pos = sink.checkpoint()
        state.save(self.state_path)
        self.since_checkpoint = 0

    def _drain(self, state: Progress, sink: JsonlSink | ParquetSink, bar: Any) -> None:
        """Write the oldest chunk in flight once scored; checkpoint every `--checkpoint-rows`."""
        chunk, valid, future = self.pending.popleft()
        judgements = future.result()  # may raise: nothing of this chunk is written yet
        rows = self._judge(chunk, valid, judgements, state)
        sink.write(rows)
        state.input_pos, state.rows_done = chunk.end, state.rows_done + len(chunk.rows)
        self.since_checkpoint += len(chunk.rows)
        bar.update(len(chunk.rows))
        bar.set_postfix(kept=state.kept, dropped=state.dropped, refresh=False)
        if self.since_checkpoint >= self.args.checkpoint_rows:
            self._checkpoint(state, sink)

    def _snippets(
        self, chunk: Chunk, first_row: int, max_bytes: int
    ) -> tuple[list[int], list[tuple[str, str, str]]]:
        """Indices of the scorable rows and their (id, code, language)."""
        a, valid, snippets = self.args, [], []
        for k, row in enumerate(chunk.rows):
            code = row.get(a.code_field)
            if invalid_reason(code, max_bytes) is not None:
                continue
            rid = row.get(a.id_field)
            lang = row.get(a.language_field) or ""
            valid.append(k)
            rid = str(first_row + k) if rid is None else str(rid)
            snippets.append((rid, code, language_hint(lang)))
        return valid, snippets

    def _judge(
        self, chunk: Chunk, valid: list[int], judgements: list[Judgement], state: Progress
    ) -> list[dict[str, Any]]:
        """Rows to write, with the edu columns; counts kept / dropped / invalid."""
        per_row = [INVALID] * len(chunk.rows)
        for k, j in zip(valid, judgements, strict=True):
            per_row[k] = j
        out = []
        for row, j in zip(chunk.rows, per_row, strict=True):
            state.kept += j.keep
            state.dropped += j.score is not None and not j.keep
            state.invalid += j.score is None
            if j.keep or self.args.all:
                edu = {"edu_score": j.score, "edu_keep": j.keep, "edu_label": j.label}
                if self.args.units:
                    edu[EDU_UNITS] = j.units
                out.append({**row, **edu})
        return out

    def _summary(self, state: Progress, seconds: float, n_run: int, *, resumed: str) -> str:
        n = state.kept + state.dropped + state.invalid
        rate = f", {n_run / seconds:.1f} rows/s" if seconds > 0 else ""
        note = f" ({resumed})" if resumed else ""
        return (
            f"filter: {n} rows, {state.kept} kept, {state.dropped} dropped, {state.invalid} invalid"
            f" at threshold {state.fingerprint['threshold']:g} -> {self.output}"
            f" in {seconds:.1f}s{rate}{note}"
        )
