"""`eduscore score`: files or JSONL rows scored by servers, one JSON result per line on stdout.

Rows go in ScoreBatch calls, each with the --timeout-s deadline; with --units, each line also
lists the units of an input long enough to be split (`units`: kind, name, lines, score, keep).
A bad row (not JSON, no string `code`, unreadable, or refused by the server) is reported on
stderr with its row number and skipped; --fail-fast stops there instead. Any bad row makes the
exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from eduscore.client import EduScoreClient, SnippetIn
from eduscore.pipelines.connect import connection_of
from eduscore.pipelines.rows import UsageError

BATCH_SNIPPETS = 64
#: Well under the server's default --max-message-bytes (16 MiB), so a batch is never too large.
BATCH_BYTES = 4 * 1024 * 1024
EXTENSIONS = {
    ".py": "python",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".toml": "toml",
    ".ini": "ini",
    ".cfg": "ini",
    ".sh": "shell",
    ".js": "javascript",
    ".ts": "typescript",
    ".md": "markdown",
    ".txt": "text",
}
_BAD_ITEM = re.compile(r"snippets\[(\d+)\]\.(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Row:
    where: str  # "file:line" of a JSONL row, or the file's name
    snippet: SnippetIn | None  # None: unusable, see `problem`
    problem: str = ""


def _jsonl_row(name: str, n: int, line: str) -> Row:
    where = f"{'stdin' if name == '-' else name}:{n}"
    try:
        row = json.loads(line)
    except ValueError as exc:
        return Row(where, None, f"not valid JSON ({exc})")
    if not isinstance(row, dict):
        return Row(where, None, "not a JSON object")
    code = row.get("code")
    if not isinstance(code, str):
        return Row(where, None, "needs a string field 'code'")
    language = row.get("language") or ""
    if not isinstance(language, str):
        return Row(where, None, "'language' must be a string")
    return Row(where, SnippetIn(code=code, id=str(row.get("id", f"{name}:{n}")), language=language))


def read_rows(inputs: Sequence[str]) -> Iterator[Row]:
    """Rows of JSONL files or stdin ('-'), or whole source files, in order."""
    for name in inputs:
        if name == "-" or name.endswith(".jsonl"):
            try:
                stream = sys.stdin if name == "-" else open(name, encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                yield Row(name, None, f"cannot read ({exc.strerror})")
                continue
            with stream:
                for n, line in enumerate(stream, 1):
                    if line.strip():
                        yield _jsonl_row(name, n, line)
        else:
            path = Path(name)
            try:
                code = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                yield Row(name, None, f"cannot read ({exc.strerror})")
                continue
            language = EXTENSIONS.get(path.suffix.lower(), "")
            yield Row(name, SnippetIn(code, id=name, language=language))


def _chunks(
    rows: Iterator[Row], max_snippets: int = BATCH_SNIPPETS, max_bytes: int = BATCH_BYTES
) -> Iterator[list[Row]]:
    """Consecutive rows in groups small enough for one call; a bad row travels alone."""
    chunk: list[Row] = []
    size = 0
    for row in rows:
        cost = len(row.snippet.code) if row.snippet else 0
        if chunk and (len(chunk) >= max_snippets or size + cost > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += cost
    if chunk:
        yield chunk


class Scoring:
    """Scores chunks, prints results, reports and counts bad rows."""

    def __init__(
        self,
        client: EduScoreClient,
        threshold: float | None,
        fail_fast: bool,
        tier: str | None = None,
        units: bool = False,
    ) -> None:
        self.client, self.threshold, self.fail_fast = client, threshold, fail_fast
        self.tier = tier  # None: the server's default
        self.units = units
        self.bad = 0

    def report(self, row: Row, problem: str) -> None:
        self.bad += 1
        action = "stopping (--fail-fast)" if self.fail_fast else "skipped"
        print(f"eduscore score: {row.where}: {problem}; {action}", file=sys.stderr, flush=True)

    def chunk(self, rows: list[Row]) -> bool:
        """Score `rows` in order; False when --fail-fast stops at a bad one."""
        for i, row in enumerate(rows):
            if row.snippet is None:
                self._score(rows[:i])
                self.report(row, row.problem)
                if self.fail_fast:
                    return False
                return self.chunk(rows[i + 1 :])
        return self._score(rows)

    def _score(self, rows: list[Row]) -> bool:
        import grpc

        pending = list(rows)
        while pending:
            try:
                results = self.client.score_batch(
                    [r.snippet for r in pending if r.snippet],
                    threshold=self.threshold,
                    tier=self.tier,
                    units=self.units,
                )
            except grpc.RpcError as exc:
                if len(pending) > 1 and _too_many_units(exc):
                    half = len(pending) // 2  # its files split into more units than fit at once
                    return self._score(pending[:half]) and self._score(pending[half:])
                bad = _refused_item(exc, len(pending))
                if bad is None:
                    raise
                index, problem = bad
                self._score(pending[:index])
                self.report(pending[index], problem)
                if self.fail_fast:
                    return False
                pending = pending[index + 1 :]
                continue
            for res in results:
                line = asdict(res)
                if not self.units:  # the line as before units existed
                    del line["units"]
                print(json.dumps(line), flush=True)
            return True
        return True


def _too_many_units(exc: object) -> bool:
    """The server refused the batch as a whole: its files split into more units than its queue
    holds (each file alone fits)."""
    import grpc

    details = exc.details() or ""  # type: ignore[attr-defined]
    code = exc.code()  # type: ignore[attr-defined]
    return code is grpc.StatusCode.INVALID_ARGUMENT and details.startswith("snippets: the files")


def _refused_item(exc: object, n: int) -> tuple[int, str] | None:
    """(index, problem) when the server refused one snippet of the batch, else None."""
    import grpc

    code, details = exc.code(), exc.details() or ""  # type: ignore[attr-defined]
    if code is grpc.StatusCode.INVALID_ARGUMENT and (m := _BAD_ITEM.match(details)):
        return int(m[1]), f"{m[2]} [INVALID_ARGUMENT]"
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and n == 1 and "larger than max" in details:
        return 0, f"{details} [RESOURCE_EXHAUSTED]"
    return None


def run(args: argparse.Namespace) -> int:
    import grpc

    servers = args.server or [os.environ.get("EDUSCORE_SERVER", "localhost:50051")]
    try:
        conn = connection_of(args, os.environ, servers, "eduscore score")
    except UsageError as exc:
        print(f"eduscore score: {exc}", file=sys.stderr)
        return 2
    with EduScoreClient(servers, timeout_s=args.timeout_s, **conn.client_kwargs()) as client:
        scoring = Scoring(client, args.threshold, args.fail_fast, args.tier, args.units)
        try:
            # Within the server's limits (ModelInfo.limits; 0: an older server not saying).
            lim = client.model_info().limits
            n = min(BATCH_SNIPPETS, lim.max_batch_snippets or BATCH_SNIPPETS)
            size = min(BATCH_BYTES, lim.max_queue_bytes or BATCH_BYTES)
            for chunk in _chunks(read_rows(args.inputs), n, size):
                if not scoring.chunk(chunk):
                    return 1
        except grpc.RpcError as exc:
            code, details = exc.code(), exc.details()
            hint = f"; {conn.hint()}" if code is grpc.StatusCode.UNAVAILABLE else ""
            print(f"eduscore score: {code.name}: {details}{hint}", file=sys.stderr)
            return 1
    if scoring.bad:
        print(f"eduscore score: {scoring.bad} bad row(s) skipped", file=sys.stderr)
        return 1
    return 0
