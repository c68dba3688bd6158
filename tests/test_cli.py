"""The command line, run as users run it: a subprocess of the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .conftest import MODEL_DIR
from .snippets import SETTINGS, TEXTBOOK


def run(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "eduscore", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_lists_commands_and_env_vars() -> None:
    out = run("--help")
    assert out.returncode == 0
    for cmd in ("serve", "score", "filter", "train", "evaluate"):
        assert cmd in out.stdout
    serve = run("serve", "--help")
    assert serve.returncode == 0 and "EDUSCORE_MAX_QUEUE_SIZE" in serve.stdout


def test_bad_flag_exits_2() -> None:
    assert run("serve", "--no-such-flag").returncode == 2
    bad = run("serve", "--threshold", "9")
    assert bad.returncode == 2 and "threshold=9.0" in bad.stderr


def test_score_jsonl_and_files_against_server(server, tmp_path: Path) -> None:
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"id": "book", "code": TEXTBOOK, "language": "python"},
                {"id": "conf", "code": SETTINGS},
            ]
        )
        + "\n"
    )
    src = tmp_path / "demo.py"
    src.write_text(TEXTBOOK)
    out = run("score", str(jsonl), str(src), "--server", server.address)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["book", "conf", str(src)]
    assert rows[0]["score"] > rows[1]["score"]
    assert rows[0]["score"] == rows[2]["score"]  # the same code, the same server
    assert set(rows[0]) >= {"id", "score", "keep", "label", "threshold", "model_version", "signals"}


def test_score_reads_stdin_and_reports_errors(server) -> None:
    ok = run(
        "score",
        "-",
        "--server",
        server.address,
        "--threshold",
        "0",
        stdin=json.dumps({"id": "s", "code": "x = 1\n"}) + "\n",
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["keep"] is True
    bad = run("score", "-", "--server", server.address, stdin=json.dumps({"code": " "}) + "\n")
    assert bad.returncode == 1 and "INVALID_ARGUMENT" in bad.stderr


def test_score_reports_bad_rows_and_goes_on(server, tmp_path: Path) -> None:
    jsonl = tmp_path / "rows.jsonl"
    lines = [
        json.dumps({"id": "a", "code": TEXTBOOK}),
        '{"id": "broken", "code": ',
        json.dumps({"id": "blank", "code": "   "}),
        json.dumps({"id": "nocode"}),
        json.dumps({"id": "b", "code": SETTINGS}),
    ]
    jsonl.write_text("\n".join(lines) + "\n")
    out = run("score", str(jsonl), "--server", server.address)
    assert out.returncode == 1
    assert [json.loads(line)["id"] for line in out.stdout.splitlines()] == ["a", "b"]
    assert f"{jsonl}:2: not valid JSON" in out.stderr
    assert f"{jsonl}:3: code: is empty or whitespace only" in out.stderr
    assert "INVALID_ARGUMENT" in out.stderr
    assert f"{jsonl}:4: needs a string field 'code'" in out.stderr
    assert "3 bad row(s) skipped" in out.stderr and "Traceback" not in out.stderr

    stop = run("score", str(jsonl), "--server", server.address, "--fail-fast")
    assert stop.returncode == 1
    assert [json.loads(line)["id"] for line in stop.stdout.splitlines()] == ["a"]
    assert f"{jsonl}:2:" in stop.stderr and f"{jsonl}:3:" not in stop.stderr


def test_score_timeout_takes_effect(server, tmp_path: Path) -> None:
    jsonl = tmp_path / "many.jsonl"
    rows = [{"id": str(i), "code": f"v_{uuid.uuid4().hex} = {i}"} for i in range(64)]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = run("score", str(jsonl), "--server", server.address, "--timeout-s", "0.001")
    assert out.returncode == 1 and out.stdout == ""
    assert "DEADLINE_EXCEEDED" in out.stderr


def test_serve_with_missing_model_fails_fast(tmp_path: Path) -> None:
    out = run(
        "serve",
        "--port",
        "0",
        "--metrics-port",
        "-1",
        "--http-port",
        "-1",
        "--model-dir",
        str(tmp_path),
        timeout=120,
    )
    assert out.returncode == 1
    assert "metadata.json" in out.stderr and str(tmp_path) in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "tier",
    [
        "full",
        pytest.param(
            "fast",
            marks=pytest.mark.skipif(
                not (MODEL_DIR / "fast" / "metadata.json").exists(),
                reason="the shipped model has no fast tier (models/current/fast/) yet",
            ),
        ),
    ],
)
def test_score_sends_the_tier(server, tier: str) -> None:
    row = json.dumps({"id": "t", "code": TEXTBOOK}) + "\n"
    out = run("score", "-", "--server", server.address, "--tier", tier, stdin=row)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tier"] == tier


def test_tier_flags_are_checked_and_documented() -> None:
    bad = run("score", "-", "--tier", "turbo", stdin="")
    assert bad.returncode == 2 and "invalid choice: 'turbo'" in bad.stderr
    assert run("filter", "--input", "x", "--output", "y", "--device", "tpu").returncode == 2
    usage = run("filter", "--help").stdout
    assert all(flag in usage for flag in ("--tier", "--workers", "--device"))


def test_train_and_evaluate_need_the_data_named() -> None:
    """No default corpus path (that is this repository's layout, not a user's): argparse exits 2."""
    train = run("train", "--out", "never-written")
    assert train.returncode == 2 and "--data" in train.stderr
    evaluate = run("evaluate")
    assert evaluate.returncode == 2 and "data" in evaluate.stderr
