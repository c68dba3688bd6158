"""`eduscore filter`: score a JSONL/Parquet dataset and keep its educational rows, resumably.

Rows are read in chunks of `--batch-size`, scored by remote servers (several ScoreBatch calls in
flight, round-robin over the addresses) or by an in-process Scorer (in `--workers` processes,
each loading it once; several chunks in flight), and written in input order. `--tier` picks the
model: full, fast (static embeddings, no torch) or cascade.
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
import sys
from collections.abc import Sequence

from eduscore.pipelines import connect
from eduscore.pipelines.job import Job
from eduscore.pipelines.rows import UsageError

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Job",  # bench/replicas.py builds jobs from the same flags
    "add_arguments",
    "main",
    "run",
]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: As in scoring.tiers and config (not imported: this module stays light for `--help`).
TIERS = ("full", "fast", "cascade")
DEVICES = ("auto", "cpu", "cuda")


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
    parser.add_argument(
        "--units",
        action="store_true",
        help="write the units (functions, classes, ...: kind, name, lines, score, keep) of each row"
        " longer than one unit (3,000 characters) as `edu_units` (a list; empty for a row of one"
        " unit), so a pipeline can keep the good functions of a mediocre file",
    )
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
    connect.add_arguments(parser)  # --token, --tls, --tls-ca, --tls-cert, --tls-key
    parser.add_argument("--timeout-s", type=float, default=120.0, help="deadline per call")
    parser.add_argument(
        "--connect-timeout-s", type=float, default=20.0, help="wait this long for a server"
    )
    parser.add_argument("--model-dir", default="", help="in-process model [default: shipped]")
    parser.add_argument("--encoder", default="", help="in-process sentence-transformers dir")
    parser.add_argument(
        "--tier",
        choices=TIERS,
        default=None,
        help="full (encoder), fast (static embeddings, no torch) or cascade [default: the"
        " server's default; full in-process]",
    )
    parser.add_argument(
        "--device", choices=DEVICES, default="auto", help="in-process encoder device [auto]"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="in-process scoring processes [0: every core for --tier fast, else 1, since torch"
        " already uses every core]",
    )


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


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m eduscore.pipelines.filtering ...`: the same command without cli.py."""
    parser = argparse.ArgumentParser(prog="eduscore filter")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
