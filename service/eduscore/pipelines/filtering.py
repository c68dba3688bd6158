"""`eduscore filter`: score a JSONL/Parquet dataset and keep its educational rows, resumably.

Rows are read in chunks of `--batch-size`, scored by remote servers (several ScoreBatch calls in
flight, round-robin over the addresses) or by an in-process Scorer, and written in input order.
Every `--checkpoint-rows` rows the output is made durable and a sidecar `<output>.progress.json`
records how far the input was consumed and how much output belongs to it, so rerunning the same
command after a crash or Ctrl-C continues where it stopped and writes every row exactly once.
JSONL output grows in `<output>.partial` (truncated back to the checkpoint on resume); Parquet
output is written as parts under `<output>.parts/` and merged at the end.

Exit codes: 0 done, 1 runtime failure (server unreachable, overloaded past the retries, model
load, I/O), 2 usage error (bad flags, unknown format, missing field, progress of another run),
130 interrupted (progress is kept; rerun to resume).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EDU_COLUMNS = ("edu_score", "edu_keep", "edu_label")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
#: Server-side default; the in-process path applies the same edge rule so both agree.
DEFAULT_MAX_SNIPPET_BYTES = 1_000_000


class UsageError(Exception):
    """The command cannot work as given (exit 2); rerunning it unchanged will not help."""


@dataclass(frozen=True, slots=True)
class Judgement:
    """What one row gets: `score`/`label` are None for rows that cannot be scored (invalid)."""

    score: float | None
    keep: bool
    label: int | None


INVALID = Judgement(None, False, None)


def invalid_reason(code: object, max_bytes: int = DEFAULT_MAX_SNIPPET_BYTES) -> str | None:
    """Why the server would refuse `code`, checked first so one bad row never fails a batch."""
    if code is None:
        return "null"
    if not isinstance(code, str):
        return f"not a string ({type(code).__name__})"
    if not code.strip():
        return "empty"
    if "\x00" in code:
        return "NUL bytes"
    if len(code.encode("utf-8", "surrogatepass")) > max_bytes:
        return f"over {max_bytes} bytes"
    return None


def language_hint(value: object) -> str:
    """The hint as the server normalises it (unknown: detect), so in-process scores match it."""
    from eduscore.scoring.scorer import normalize_language

    return normalize_language(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `eduscore filter`."""
    parser.add_argument("--input", required=True, help="JSONL (.jsonl/.ndjson) or Parquet file")
    parser.add_argument("--output", required=True, help="JSONL or Parquet file (by extension)")
    parser.add_argument(
        "--server",
        action="append",
        default=None,
        help="host:port of a server; repeat to balance round-robin. None: score in-process",
    )
    parser.add_argument("--threshold", type=float, default=None, help="keep threshold (0-5)")
    parser.add_argument("--all", action="store_true", help="write every row, not just kept ones")
    parser.add_argument("--code-field", default="code", help="column with the code [%(default)s]")
    parser.add_argument("--id-field", default="id", help="column with the id [%(default)s]")
    parser.add_argument("--language-field", default="language", help="language hint column")
    parser.add_argument("--batch-size", type=int, default=128, help="rows per scoring call")
    parser.add_argument(
        "--inflight", type=int, default=0, help="ScoreBatch calls in flight [0: 2 + 2 per server]"
    )
    parser.add_argument(
        "--checkpoint-rows", type=int, default=4096, help="rows between durable checkpoints"
    )
    parser.add_argument("--restart", action="store_true", help="discard earlier progress")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--token", default=None, help="bearer token [env: EDUSCORE_AUTH_TOKEN]")
    parser.add_argument("--timeout-s", type=float, default=120.0, help="deadline per call")
    parser.add_argument(
        "--connect-timeout-s", type=float, default=20.0, help="wait this long for a server"
    )
    parser.add_argument("--model-dir", default="", help="in-process model [default: shipped]")
    parser.add_argument("--encoder", default="", help="in-process sentence-transformers dir")


def run(args: argparse.Namespace) -> int:
    """Run `eduscore filter`; returns the exit code (see the module docstring)."""
    import grpc

    from eduscore.errors import EduScoreError

    try:
        job = Job.from_args(args)
        summary = job.execute()
    except UsageError as exc:
        print(f"eduscore filter: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except grpc.RpcError as exc:
        code = exc.code().name if hasattr(exc, "code") else "RPC"
        details = exc.details() if hasattr(exc, "details") else str(exc)
        print(f"eduscore filter: {code}: {details}; rerun to resume", file=sys.stderr)
        return EXIT_FAILURE
    except (EduScoreError, OSError, TimeoutError) as exc:
        print(f"eduscore filter: {type(exc).__name__}: {exc}; rerun to resume", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("eduscore filter: interrupted; rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(summary)
    return EXIT_OK


def format_of(path: str) -> str:
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(f"{path}: unknown format; use one of {sorted(FORMATS)}")
    return fmt


# --- progress -------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Progress:
    """The sidecar: input consumed (`input_pos`: byte offset or row index), output that matches."""

    fingerprint: dict[str, Any]
    rows_done: int = 0
    input_pos: int = 0
    output_pos: int = 0
    kept: int = 0
    dropped: int = 0
    invalid: int = 0
    complete: bool = False

    @staticmethod
    def load(path: Path) -> Progress | None:
        if not path.exists():
            return None
        try:
            return Progress(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise UsageError(
                f"{path} is unreadable ({exc}); pass --restart to discard it"
            ) from None

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, path)  # atomic: a crash leaves the old or the new state, never half


# --- input ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Chunk:
    rows: list[dict[str, Any]]
    end: int  # input position after this chunk


def count_rows(path: str, fmt: str) -> int:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def read_chunks(path: str, fmt: str, start: int, n: int, code_field: str) -> Iterator[Chunk]:
    """Chunks of up to `n` rows from input position `start`."""
    if fmt == "parquet":
        yield from _parquet_chunks(path, start, n, code_field)
        return
    with open(path, "rb") as f:
        f.seek(start)
        rows: list[dict[str, Any]] = []
        pos = start
        for line in f:
            pos += len(line)
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{path} at byte {pos - len(line)}: not JSON ({exc})") from None
            if not isinstance(row, dict) or code_field not in row:
                raise UsageError(
                    f"{path} at byte {pos - len(line)}: row has no field {code_field!r}"
                    " (set --code-field)"
                )
            rows.append(row)
            if len(rows) >= n:
                yield Chunk(rows, pos)
                rows = []
        if rows:
            yield Chunk(rows, pos)


def _parquet_chunks(path: str, start: int, n: int, code_field: str) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    if code_field not in pf.schema_arrow.names:
        raise UsageError(f"{path}: no column {code_field!r} in {pf.schema_arrow.names}")
    first, skip = 0, start  # skip whole row groups instead of reading and dropping them
    while first < pf.num_row_groups and skip >= pf.metadata.row_group(first).num_rows:
        skip -= pf.metadata.row_group(first).num_rows
        first += 1
    pos = start - skip
    groups = list(range(first, pf.num_row_groups))
    for batch in pf.iter_batches(batch_size=n, row_groups=groups) if groups else ():
        pos += batch.num_rows
        if skip >= batch.num_rows:
            skip -= batch.num_rows
            continue
        rows = batch.slice(skip).to_pylist()
        skip = 0
        yield Chunk(rows, pos)


# --- output ---------------------------------------------------------------------------------


class JsonlSink:
    """Appends to `<output>.partial`; `checkpoint` returns the durable byte size."""

    def __init__(self, output: Path, pos: int) -> None:
        self.output = output
        self.partial = output.with_name(output.name + ".partial")
        if pos and self.partial.exists():
            self.f = self.partial.open("r+b")
            self.f.truncate(pos)  # drop rows written after the last checkpoint
            self.f.seek(pos)
        else:
            self.f = self.partial.open("wb")

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self.f.write(
            b"".join((json.dumps(r, ensure_ascii=False, default=str) + "\n").encode() for r in rows)
        )

    def checkpoint(self) -> int:
        self.f.flush()
        os.fsync(self.f.fileno())
        return self.f.tell()

    def finish(self) -> None:
        self.f.close()
        os.replace(self.partial, self.output)

    def close(self) -> None:
        self.f.close()


class ParquetSink:
    """One Parquet part per checkpoint under `<output>.parts/`, merged into `output` at the end."""

    def __init__(self, output: Path, pos: int, schema: Any | None) -> None:
        self.output, self.schema, self.n_parts = output, schema, pos
        self.parts = output.with_name(output.name + ".parts")
        self.parts.mkdir(exist_ok=True)
        for part in self.parts.glob("part-*.parquet"):  # parts beyond the checkpoint
            if int(part.stem.split("-")[1]) >= pos:
                part.unlink()
        self.buffer: list[dict[str, Any]] = []

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self.buffer.extend(rows)

    def checkpoint(self) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.buffer:
            if self.schema is not None:
                table = pa.Table.from_pylist(self.buffer, schema=self.schema)
            else:  # JSONL input: rows may differ in keys; take their union, in first-seen order
                keys = list(dict.fromkeys(k for r in self.buffer for k in r))
                table = pa.table({k: [r.get(k) for r in self.buffer] for k in keys})
            tmp = self.parts / f".tmp-{self.n_parts:06d}.parquet"
            pq.write_table(table, tmp)
            os.replace(tmp, self.parts / f"part-{self.n_parts:06d}.parquet")
            self.n_parts += 1
            self.buffer.clear()
        return self.n_parts

    def finish(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        paths = [self.parts / f"part-{i:06d}.parquet" for i in range(self.n_parts)]
        schemas = [pq.read_schema(p) for p in paths]
        if self.schema is not None:
            schemas.insert(0, self.schema)
        schema = (
            pa.unify_schemas(schemas, promote_options="permissive")
            if schemas
            else pa.schema(list(zip(EDU_COLUMNS, _edu_types(), strict=True)))
        )
        tmp = self.output.with_name(self.output.name + ".tmp")
        with pq.ParquetWriter(tmp, schema) as writer:  # streams part by part: bounded memory
            for p in paths:
                writer.write_table(pq.read_table(p).cast(schema))
            if not paths:
                writer.write_table(schema.empty_table())
        os.replace(tmp, self.output)
        shutil.rmtree(self.parts)

    def close(self) -> None:
        pass


def _edu_types() -> tuple[Any, ...]:
    """Arrow types of EDU_COLUMNS (a function: pyarrow is imported only when writing Parquet)."""
    import pyarrow as pa

    return (pa.float64(), pa.bool_(), pa.int64())


def output_schema(input_path: str, in_fmt: str) -> Any | None:
    """For Parquet to Parquet: the input's schema plus the edu columns, so parts agree."""
    if in_fmt != "parquet":
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(input_path)
    for name, kind in zip(EDU_COLUMNS, _edu_types(), strict=True):
        if name not in schema.names:
            schema = schema.append(pa.field(name, kind))
    return schema


# --- scoring backends -----------------------------------------------------------------------


class RemoteBackend:
    """ScoreBatch calls on a thread pool; several in flight keep every replica's queue full."""

    def __init__(self, args: argparse.Namespace, servers: list[str]) -> None:
        from eduscore.serving.client import EduScoreClient

        token = args.token if args.token is not None else os.environ.get("EDUSCORE_AUTH_TOKEN", "")
        self.client = EduScoreClient(servers, timeout_s=args.timeout_s, token=token)
        try:
            self.client.wait_ready(timeout_s=args.connect_timeout_s)
        except Exception as exc:  # grpc.FutureTimeoutError: nothing answers at any address
            self.client.close()
            raise TimeoutError(
                f"no server reachable at {', '.join(servers)} in {args.connect_timeout_s:g}s"
            ) from exc
        try:
            self._configure(args, servers)
        except BaseException:
            self.client.close()
            raise

    def _configure(self, args: argparse.Namespace, servers: list[str]) -> None:
        info = self.client.model_info()
        self.model_version = info.model_version
        self.max_bytes = info.limits.max_snippet_bytes or DEFAULT_MAX_SNIPPET_BYTES
        if info.limits.max_batch_snippets and args.batch_size > info.limits.max_batch_snippets:
            raise UsageError(
                f"--batch-size={args.batch_size} exceeds the server's"
                f" --max-batch-snippets={info.limits.max_batch_snippets}"
            )
        self.threshold = info.default_threshold if args.threshold is None else args.threshold
        self.inflight = args.inflight or 2 + 2 * len(servers)
        self.pool = ThreadPoolExecutor(self.inflight, thread_name_prefix="eduscore-filter")

    def submit(self, snippets: list[tuple[str, str, str]]) -> Future[list[Judgement]]:
        return self.pool.submit(self._score, snippets)

    def _score(self, snippets: list[tuple[str, str, str]]) -> list[Judgement]:
        import grpc

        from eduscore.serving.client import SnippetIn

        batch = [SnippetIn(code=c, id=i, language=lang) for i, c, lang in snippets]
        for attempt in range(10):
            try:
                results = self.client.score_batch(batch, threshold=self.threshold)
                return [Judgement(float(r.score), bool(r.keep), int(r.label)) for r in results]
            except grpc.RpcError as exc:
                if exc.code() is grpc.StatusCode.INVALID_ARGUMENT:
                    return self._one_by_one(batch)
                if exc.code() is not grpc.StatusCode.RESOURCE_EXHAUSTED or attempt == 9:
                    raise
                # Queue full: back off exponentially with jitter so clients do not retry in step.
                time.sleep(min(0.2 * 2**attempt, 10.0) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def _one_by_one(self, batch: list[Any]) -> list[Judgement]:
        """A row the local check let through was refused: find it and mark it invalid."""
        import grpc

        out = []
        for s in batch:
            try:
                r = self.client.score(
                    s.code, id=s.id, language=s.language, threshold=self.threshold
                )
                out.append(Judgement(float(r.score), bool(r.keep), int(r.label)))
            except grpc.RpcError as exc:
                if exc.code() is not grpc.StatusCode.INVALID_ARGUMENT:
                    raise
                log.warning("row %r refused: %s", s.id, exc.details())
                out.append(INVALID)
        return out

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


class LocalBackend:
    """The in-process Scorer; synchronous, since torch already uses every core."""

    inflight = 0

    def __init__(self, args: argparse.Namespace) -> None:
        from eduscore.config import Settings
        from eduscore.scoring.scorer import Scorer

        self.threshold = Settings().threshold if args.threshold is None else args.threshold
        self.scorer = Scorer.load(
            args.model_dir or Settings().resolved_model_dir,
            encoder=args.encoder,
            threshold=self.threshold,
            batch_size=min(args.batch_size, 64),
        )
        self.model_version = self.scorer.model_version
        self.max_bytes = DEFAULT_MAX_SNIPPET_BYTES

    def submit(self, snippets: list[tuple[str, str, str]]) -> Future[list[Judgement]]:
        from eduscore.scoring.scorer import Snippet

        future: Future[list[Judgement]] = Future()
        results = self.scorer.score_batch(
            [Snippet(id=i, code=c, language=lang) for i, c, lang in snippets], self.threshold
        )
        future.set_result([Judgement(r.score, r.keep, r.label) for r in results])
        return future

    def close(self) -> None:
        pass


# --- the job --------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Job:
    """One `eduscore filter` invocation: validated arguments, output paths, calls in flight."""

    args: argparse.Namespace
    in_fmt: str
    out_fmt: str
    output: Path
    state_path: Path
    pending: deque[Any] = field(default_factory=deque)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Job:
        if not os.path.isfile(args.input):
            raise UsageError(f"--input {args.input}: no such file")
        if args.threshold is not None and not 0.0 <= args.threshold <= 5.0:
            raise UsageError(f"--threshold={args.threshold} is outside the label scale 0..5")
        if args.batch_size < 1 or args.checkpoint_rows < 1 or args.inflight < 0:
            raise UsageError("--batch-size and --checkpoint-rows must be >= 1, --inflight >= 0")
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

    def fingerprint(self, model_version: str, threshold: float) -> dict[str, Any]:
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
        fp = self.fingerprint(backend.model_version, backend.threshold)
        state = Progress.load(self.state_path)
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
        return ParquetSink(self.output, pos, output_schema(self.args.input, self.in_fmt))

    def _loop(self, backend: Any, state: Progress, sink: JsonlSink | ParquetSink) -> None:
        from tqdm import tqdm

        a = self.args
        bar = tqdm(
            total=count_rows(a.input, self.in_fmt),
            initial=state.rows_done,
            unit="row",
            dynamic_ncols=True,
            disable=a.no_progress,
            file=sys.stderr,
        )
        since = [0]  # rows since the last checkpoint

        def checkpoint() -> None:
            state.output_pos = sink.checkpoint()
            state.save(self.state_path)
            since[0] = 0

        def drain() -> None:
            chunk, valid, future = self.pending.popleft()
            judgements = future.result()  # may raise: nothing of this chunk is written yet
            rows = self._judge(chunk, valid, judgements, state)
            sink.write(rows)
            state.input_pos, state.rows_done = chunk.end, state.rows_done + len(chunk.rows)
            since[0] += len(chunk.rows)
            bar.update(len(chunk.rows))
            bar.set_postfix(kept=state.kept, dropped=state.dropped, refresh=False)
            if since[0] >= a.checkpoint_rows:
                checkpoint()

        chunks = read_chunks(a.input, self.in_fmt, state.input_pos, a.batch_size, a.code_field)
        submitted = state.rows_done
        try:
            for chunk in chunks:
                valid, snippets = self._snippets(chunk, submitted, backend.max_bytes)
                submitted += len(chunk.rows)
                future = backend.submit(snippets) if snippets else _done()
                self.pending.append((chunk, valid, future))
                while len(self.pending) > backend.inflight:
                    drain()
            while self.pending:
                drain()
            checkpoint()
            sink.finish()
            state.complete = True
            state.save(self.state_path)
        finally:
            for _, _, future in self.pending:
                future.cancel()
            bar.close()

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
                out.append({**row, "edu_score": j.score, "edu_keep": j.keep, "edu_label": j.label})
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


def _done() -> Future[list[Judgement]]:
    future: Future[list[Judgement]] = Future()
    future.set_result([])
    return future


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m eduscore.pipelines.filtering ...`: the same command without cli.py."""
    parser = argparse.ArgumentParser(prog="eduscore filter")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
