"""`eduscore filter` on temp JSONL/Parquet files: remote and in-process, resume, exit codes."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eduscore.pipelines import filtering
from eduscore.serving.client import EduScoreClient, SnippetIn

from .conftest import MODEL_DIR, free_port, start_server, stop_server
from .long_files import JS_MODULE, PY_MODULE
from .snippets import CI_YAML, GENERATED, SETTINGS, SMALL, TEXTBOOK

ROWS: list[dict[str, Any]] = [
    {"id": f"s{i}", "code": code, "language": lang}
    for i, (code, lang) in enumerate(
        [(TEXTBOOK, "python"), (SETTINGS, "python"), (GENERATED, ""), (CI_YAML, "yaml")]
        + [(c, "") for c in SMALL]
    )
] + [{"id": "blank", "code": "   \n", "language": ""}]


def many_rows(n: int, tag: str = "") -> list[dict[str, Any]]:
    """Distinct snippets (the server's result cache must not make the run instant); a `tag`
    makes them distinct from another test's too (one server serves the whole session)."""
    return [
        {
            "id": f"m{i}",
            "code": f"def scale{tag}_{i}(values: list[float]) -> list[float]:\n"
            f'    """Multiply every value by {i}."""\n'
            f"    return [v * {i} for v in values]\n",
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_out(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    return [json.loads(line) for line in path.read_text().splitlines()]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "eduscore.pipelines.filtering", "--no-progress", *args]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def served(server) -> dict[str, float]:
    """The server's scores of ROWS, by id: the oracle every mode must match."""
    valid = [r for r in ROWS if r["code"].strip()]
    with EduScoreClient(server.address) as client:
        results = client.score_batch(
            SnippetIn(code=r["code"], id=r["id"], language=r["language"]) for r in valid
        )
    return {r.id: r.score for r in results}


def check_scores(rows: list[dict[str, Any]], served: dict[str, float]) -> None:
    for row in rows:
        if row["id"] == "blank":
            assert row["edu_score"] is None and row["edu_keep"] is False
            continue
        assert row["edu_score"] == pytest.approx(served[row["id"]], abs=1e-6), row["id"]
        assert row["edu_keep"] == (row["edu_score"] >= 3.0)
        assert row["edu_label"] == min(max(int(row["edu_score"] + 0.5), 0), 5)


@pytest.mark.parametrize("out_ext", [".jsonl", ".parquet"])
def test_remote_jsonl_all_and_kept(server, served, tmp_path: Path, out_ext: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    every, kept = tmp_path / f"all{out_ext}", tmp_path / f"kept{out_ext}"
    common = ["--server", server.address, "--batch-size", "3", "--inflight", "3"]
    assert filtering.main(["--input", str(src), "--output", str(every), "--all", *common]) == 0
    assert filtering.main(["--input", str(src), "--output", str(kept), *common]) == 0
    all_rows, kept_rows = read_out(every), read_out(kept)
    assert [r["id"] for r in all_rows] == [r["id"] for r in ROWS]  # input order, every row
    assert [r["code"] for r in all_rows] == [r["code"] for r in ROWS]
    check_scores(all_rows, served)
    assert kept_rows == [r for r in all_rows if r["edu_keep"]]
    assert 0 < len(kept_rows) < len(all_rows)  # the snippets straddle the threshold


def test_in_process_parquet_matches_server(served, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), src, row_group_size=4)
    out = tmp_path / "out.parquet"
    assert filtering.main(["--input", str(src), "--output", str(out), "--all"]) == 0
    rows = read_out(out)
    assert [r["id"] for r in rows] == [r["id"] for r in ROWS]
    check_scores(rows, served)
    schema = pq.read_schema(out)
    assert schema.field("edu_score").type == pa.float64()
    assert schema.field("edu_keep").type == pa.bool_()
    n_kept = sum(r["edu_keep"] for r in rows)
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"{len(ROWS)} rows, {n_kept} kept, {len(ROWS) - 1 - n_kept} dropped, 1 invalid" in (
        summary
    )
    # The same command again: nothing to do.
    assert filtering.main(["--input", str(src), "--output", str(out), "--all"]) == 0
    assert "already complete" in capsys.readouterr().out
    assert read_out(out) == rows


def wait_progress(path: Path, process: subprocess.Popen[bytes], rows: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            state = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            state = {"rows_done": 0}
        if state["rows_done"] >= rows:
            return state
        time.sleep(0.02)
    pytest.fail(f"no progress to {rows} rows before exit {process.poll()}")


@pytest.mark.parametrize(("out_ext", "sig"), [(".jsonl", signal.SIGKILL), (".parquet", "INT")])
def test_resume_after_interruption(server, tmp_path: Path, out_ext: str, sig: Any) -> None:
    # Rows of their own: after the other case's run they would all be cached on the server.
    rows = many_rows(600, tag=out_ext.strip(".") + str(sig).rsplit(".", 1)[-1])
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / f"out{out_ext}"
    args = ["--input", str(src), "--output", str(out), "--server", server.address, "--all"]
    slow = ["--batch-size", "4", "--inflight", "1", "--checkpoint-rows", "8"]
    # SIGINT as a terminal would deliver it: a shell's background job (how CI may start the
    # suite) inherits SIGINT ignored, and Python keeps it ignored, so reset it in the child.
    process = subprocess.Popen(
        command(*args, *slow),
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    state = wait_progress(tmp_path / f"out{out_ext}.progress.json", process, 40)
    process.send_signal(signal.SIGINT if sig == "INT" else sig)
    code = process.wait(60)
    assert not state["complete"] and not out.exists()
    assert code == (130 if sig == "INT" else -9), process.stderr.read() if process.stderr else ""
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    assert "resumed at row" in done.stdout
    got = read_out(out)
    assert [r["id"] for r in got] == [r["id"] for r in rows]  # every row exactly once, in order
    assert all(r["edu_score"] is not None for r in got)
    assert not out.with_name(out.name + ".partial").exists()
    assert not out.with_name(out.name + ".parts").exists()


def test_exit_codes(server, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:3])
    out = str(tmp_path / "out.jsonl")
    no_field = run_cli("--input", str(src), "--output", out, "--code-field", "text")
    assert no_field.returncode == 2 and "'text'" in no_field.stderr
    bad_ext = run_cli("--input", str(src), "--output", str(tmp_path / "out.csv"))
    assert bad_ext.returncode == 2 and "unknown format" in bad_ext.stderr
    assert run_cli("--input", str(tmp_path / "missing.jsonl"), "--output", out).returncode == 2
    assert run_cli("--input", str(src)).returncode == 2  # argparse: --output is required
    dead = f"127.0.0.1:{free_port()}"
    unreachable = run_cli(
        "--input", str(src), "--output", out, "--server", dead, "--connect-timeout-s", "1"
    )
    assert unreachable.returncode == 1 and "no server reachable" in unreachable.stderr
    ok = run_cli("--input", str(src), "--output", out, "--server", server.address)
    assert ok.returncode == 0, ok.stderr
    n_kept_at_3 = len(read_out(Path(out)))
    # The progress of that run belongs to another threshold: refuse, unless --restart.
    other = ["--input", str(src), "--output", out, "--server", server.address, "--threshold", "1"]
    clash = run_cli(*other)
    assert clash.returncode == 2 and "threshold" in clash.stderr
    restarted = run_cli(*other, "--restart")
    assert restarted.returncode == 0, restarted.stderr
    at_1 = read_out(Path(out))
    assert len(at_1) >= n_kept_at_3 and all(r["edu_score"] >= 1.0 for r in at_1)


def test_queue_full_is_retried_with_backoff(tmp_path: Path) -> None:
    """A server with a tiny queue refuses calls (RESOURCE_EXHAUSTED); the filter backs off."""
    small = start_server(
        tmp_path,
        *("--max-queue-size", "8", "--max-batch-snippets", "8", "--max-stream-inflight", "8"),
        *("--max-file-units", "8"),
        *("--cache-size", "0"),
    )
    try:
        rows = many_rows(48)
        src = write_jsonl(tmp_path / "in.jsonl", rows)
        out = tmp_path / "out.jsonl"
        args = ["--input", str(src), "--output", str(out), "--all", "--server", small.address]
        assert filtering.main([*args, "--batch-size", "4", "--inflight", "6"]) == 0
        assert [r["id"] for r in read_out(out)] == [r["id"] for r in rows]
        with urllib.request.urlopen(small.metrics_url, timeout=10) as reply:
            metrics = reply.read().decode()
        refused = re.search(r'eduscore_rejected_total\{reason="overloaded"\} ([0-9.]+)', metrics)
        assert refused and float(refused.group(1)) > 0, "the queue never filled: test is moot"
    finally:
        assert stop_server(small) == 0


HAS_FAST = (MODEL_DIR / "fast" / "metadata.json").exists()


def test_remote_tier_is_sent_and_fingerprinted(server, served, tmp_path: Path, capsys) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    args = ["--input", str(src), "--output", str(out), "--all", "--server", server.address]
    assert filtering.main([*args, "--tier", "full"]) == 0
    check_scores(read_out(out), served)
    # The server's default tier is full: the same run, already done.
    assert filtering.main(args) == 0 and "already complete" in capsys.readouterr().out
    bad = run_cli("--input", str(src), "--output", str(out), "--workers", "-1")
    assert bad.returncode == 2 and "--workers" in bad.stderr


def test_in_process_fast_tier_without_a_fast_model_fails_cleanly(tmp_path: Path) -> None:
    model = tmp_path / "model"  # the shipped model's files, without its fast/ directory
    model.mkdir()
    for f in MODEL_DIR.iterdir():
        if f.is_file():
            shutil.copy(f, model / f.name)
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:3])
    args = ["--input", str(src), "--output", str(tmp_path / "out.jsonl"), "--model-dir", str(model)]
    failed = run_cli(*args, "--tier", "fast", "--workers", "2")  # the error crosses the pool
    assert failed.returncode == 1, failed.stderr
    assert "has no fast tier" in failed.stderr and "Traceback" not in failed.stderr


@pytest.mark.skipif(
    not HAS_FAST, reason="the shipped model has no fast tier (models/current/fast/) yet"
)
def test_fast_tier_in_worker_processes_matches_one_process(server, tmp_path: Path, capsys) -> None:
    rows = ROWS + many_rows(300, tag="workers")
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    common = ["--input", str(src), "--all", "--tier", "fast", "--batch-size", "32"]
    outs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"workers-{workers}.jsonl"
        argv = [*common, "--output", str(out), "--workers", workers, "--checkpoint-rows", "64"]
        assert filtering.main(argv) == 0
        outs[workers] = out.read_bytes()
    assert outs["1"] == outs["2"]  # same rows, same scores, same order
    got = read_out(tmp_path / "workers-2.jsonl")
    assert [r["id"] for r in got] == [r["id"] for r in rows]
    assert got[len(ROWS) - 1]["edu_score"] is None  # "blank": invalid, not scored
    # The server's fast tier, and the remote path asked for it, agree with the local one.
    scored = [r for r in got if r["edu_score"] is not None]
    with EduScoreClient(server.address) as client:
        fast = client.score_batch(
            [SnippetIn(r["code"], r["id"], r.get("language", "")) for r in scored], tier="fast"
        )
    assert [r.score for r in fast] == pytest.approx([r["edu_score"] for r in scored], abs=1e-6)
    remote = tmp_path / "remote.jsonl"
    assert filtering.main([*common, "--output", str(remote), "--server", server.address]) == 0
    by_server = {r["id"]: r["edu_score"] for r in read_out(remote)}
    assert [by_server[r["id"]] for r in scored] == pytest.approx(
        [r["edu_score"] for r in scored], abs=1e-6
    )
    capsys.readouterr()
    # Resuming that output under another tier would mix scores: refused.
    full = [*common, "--output", str(remote), "--server", server.address, "--tier", "full"]
    assert filtering.main(full) == 2  # the last --tier wins
    assert "differs in tier" in capsys.readouterr().err


# ---- --units: each row's units beside it ------------------------------------------------------

FILE_ROWS: list[dict[str, Any]] = [
    {"id": "graph", "code": PY_MODULE, "language": "python"},
    {"id": "book", "code": TEXTBOOK, "language": ""},
    {"id": "ui", "code": JS_MODULE, "language": "javascript"},
    {"id": "blank", "code": " ", "language": ""},
]


@pytest.fixture(scope="module")
def served_units(server) -> dict[str, list[dict[str, Any]]]:
    """The server's units of FILE_ROWS (the oracle), as `edu_units` holds them."""
    from eduscore.pipelines.rows import unit_rows

    valid = [r for r in FILE_ROWS if r["code"].strip()]
    with EduScoreClient(server.address) as client:
        results = client.score_batch(
            [SnippetIn(r["code"], r["id"], r["language"]) for r in valid], units=True
        )
    return {r.id: unit_rows(r.units) for r in results}


def check_units(rows: list[dict[str, Any]], served_units: dict[str, list[dict[str, Any]]]) -> None:
    assert [r["id"] for r in rows] == [r["id"] for r in FILE_ROWS]
    for row in rows:
        if row["id"] == "blank":
            assert row["edu_units"] is None  # invalid: not scored
            continue
        want = served_units[row["id"]]
        strip = [{k: v for k, v in u.items() if k != "score"} for u in row["edu_units"]]
        assert strip == [{k: v for k, v in u.items() if k != "score"} for u in want], row["id"]
        got = [u["score"] for u in row["edu_units"]]
        assert got == pytest.approx([u["score"] for u in want], abs=1e-6)
    assert [len(r["edu_units"] or []) > 0 for r in rows] == [True, False, True, False]


@pytest.mark.parametrize("out_ext", [".jsonl", ".parquet"])
def test_remote_units_beside_each_row(server, served_units, tmp_path: Path, out_ext: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", FILE_ROWS)
    out = tmp_path / f"out{out_ext}"
    argv = ["--input", str(src), "--output", str(out), "--all", "--units", "--batch-size", "2"]
    assert filtering.main([*argv, "--server", server.address]) == 0
    check_units(read_out(out), served_units)
    if out_ext == ".parquet":
        kind = pq.read_schema(out).field("edu_units").type
        assert kind == pa.list_(
            pa.struct(
                [
                    ("kind", pa.string()),
                    ("name", pa.string()),
                    ("start_line", pa.int32()),
                    ("end_line", pa.int32()),
                    ("language", pa.string()),
                    ("score", pa.float64()),
                    ("keep", pa.bool_()),
                ]
            )
        )
    # The same output without --units would mix rows with and without the column: refused.
    again = ["--input", str(src), "--output", str(out), "--all", "--server", server.address]
    plain = run_cli(*again)
    assert plain.returncode == 2 and "differs in units" in plain.stderr
    assert run_cli(*again, "--restart").returncode == 0
    assert [r["id"] for r in read_out(out)] == [r["id"] for r in FILE_ROWS]
    assert all("edu_units" not in r for r in read_out(out))


def test_in_process_units_from_parquet_match_the_server(served_units, tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(FILE_ROWS), src, row_group_size=2)
    out = tmp_path / "out.parquet"
    assert filtering.main(["--input", str(src), "--output", str(out), "--all", "--units"]) == 0
    check_units(read_out(out), served_units)
