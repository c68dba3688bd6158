"""`eduscore score` and `eduscore filter --server` against TLS, mutual-TLS and token servers, run
as users run them (subprocesses of the real entry point; the servers run in this process, so
each command runs in a thread while the event loop keeps serving)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eduscore.config import Settings
from eduscore.scoring.scorer import Snippet
from eduscore.serving.server import build_server

from .conftest import free_port
from .snippets import SETTINGS, TEXTBOOK
from .test_reliability import _certs

TOL = 1e-4
#: The environment without any EDUSCORE_* a developer may have set.
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("EDUSCORE_")}


async def eduscore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m eduscore ...` in a thread: the in-process server goes on answering."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "eduscore", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**CLEAN_ENV, **(env or {})},
    )


def _jsonl(tmp: Path) -> Path:
    path = tmp / "in.jsonl"
    rows = [{"id": "book", "code": TEXTBOOK}, {"id": "conf", "code": SETTINGS}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _ca(secure, tmp: Path) -> str:
    path = tmp / "ca.pem"
    path.write_bytes(secure.ca)
    return str(path)


async def test_score_reaches_a_tls_server_with_its_ca_and_token(secure, scorer, tmp_path) -> None:
    src, ca = _jsonl(tmp_path), _ca(secure, tmp_path)
    out = await eduscore(
        "score", str(src), "--server", secure.address, "--tls-ca", ca, "--token", secure.token
    )
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    alone = scorer.score_batch([Snippet(code=TEXTBOOK), Snippet(code=SETTINGS)])
    assert [r["id"] for r in rows] == ["book", "conf"]
    for row, want in zip(rows, alone, strict=True):
        assert row["score"] == pytest.approx(want.score, abs=TOL)
    assert "warning" not in out.stderr  # TLS: the token is not in clear text
    # The same from the environment.
    env = {"EDUSCORE_TLS_CA": ca, "EDUSCORE_AUTH_TOKEN": secure.token}
    by_env = await eduscore("score", str(src), "--server", secure.address, env=env)
    assert by_env.returncode == 0, by_env.stderr
    assert [json.loads(line) for line in by_env.stdout.splitlines()] == rows


async def test_score_without_the_ca_fails_and_says_what_to_pass(secure, tmp_path) -> None:
    src = _jsonl(tmp_path)
    base = ("score", str(src), "--server", secure.address, "--token", secure.token)
    plain = await eduscore(*base, "--timeout-s", "5")
    assert plain.returncode == 1 and not plain.stdout
    assert "UNAVAILABLE" in plain.stderr and "pass --tls-ca" in plain.stderr, plain.stderr
    system_cas = await eduscore(*base, "--tls", "--timeout-s", "5")  # not signed by those
    assert system_cas.returncode == 1 and "--tls-ca" in system_cas.stderr, system_cas.stderr
    wrong_token = await eduscore(
        "score", str(src), "--server", secure.address, "--tls-ca", _ca(secure, tmp_path)
    )
    assert wrong_token.returncode == 1 and "UNAUTHENTICATED" in wrong_token.stderr


async def test_filter_server_over_tls_with_token(secure, tmp_path) -> None:
    src, out = _jsonl(tmp_path), tmp_path / "out.jsonl"
    done = await eduscore(
        *("filter", "--input", str(src), "--output", str(out), "--all", "--no-progress"),
        *("--server", secure.address, "--tls-ca", _ca(secure, tmp_path), "--batch-size", "8"),
        env={"EDUSCORE_AUTH_TOKEN": secure.token},
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["book", "conf"] and rows[0]["edu_score"] > 0
    refused = await eduscore(
        *("filter", "--input", str(src), "--output", str(tmp_path / "o2.jsonl"), "--no-progress"),
        *("--server", secure.address, "--connect-timeout-s", "3", "--batch-size", "8"),
    )
    assert refused.returncode == 1 and "--tls-ca" in refused.stderr, refused.stderr


async def test_score_with_a_client_certificate_for_mutual_tls(scorer, tmp_path) -> None:
    certs = _certs(tmp_path)
    settings = Settings(
        host="127.0.0.1",
        metrics_port=-1,
        http_port=-1,
        tls_cert=str(tmp_path / "server_cert.pem"),
        tls_key=str(tmp_path / "server_key.pem"),
        tls_client_ca=str(tmp_path / "ca.pem"),
    )
    app = build_server(settings, "127.0.0.1:0")
    await app.start(scorer=scorer)
    assert certs["client_cert"]
    src = _jsonl(tmp_path)
    base = ("score", str(src), "--server", f"localhost:{app.port}", "--tls-ca")
    try:
        mutual = await eduscore(
            *base,
            str(tmp_path / "ca.pem"),
            *("--tls-cert", str(tmp_path / "client_cert.pem")),
            *("--tls-key", str(tmp_path / "client_key.pem")),
        )
        assert mutual.returncode == 0, mutual.stderr
        assert len(mutual.stdout.splitlines()) == 2
        no_cert = await eduscore(*base, str(tmp_path / "ca.pem"), "--timeout-s", "5")
        assert no_cert.returncode == 1 and "--tls-cert" in no_cert.stderr, no_cert.stderr
        half = await eduscore(*base, str(tmp_path / "ca.pem"), "--tls-cert", "x.pem")
        assert half.returncode == 2 and "--tls-key" in half.stderr, half.stderr
        missing = await eduscore(*base, str(tmp_path / "nope.pem"))
        assert missing.returncode == 2 and "nope.pem: cannot read" in missing.stderr
    finally:
        await app.stop(1)


async def test_a_token_in_clear_text_to_another_machine_warns(tmp_path) -> None:
    src = _jsonl(tmp_path)
    far = await eduscore(
        *("score", str(src), "--server", "eduscore.invalid:50051"),
        *("--token", "t", "--timeout-s", "2"),
    )
    assert far.returncode == 1
    assert "warning: sending the bearer token in clear text to eduscore.invalid:50051" in (
        far.stderr
    )
    near = await eduscore(
        *("score", str(src), "--server", f"localhost:{free_port()}"),
        *("--token", "t", "--timeout-s", "2"),
    )
    assert near.returncode == 1 and "warning" not in near.stderr, near.stderr


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("localhost:50051", True),
        ("127.0.0.1:1", True),
        ("[::1]:50051", True),
        ("ipv4:127.0.0.2:9", True),
        ("unix:/run/eduscore.sock", True),
        ("10.0.0.5:50051", False),
        ("eduscore.default.svc:50051", False),
        ("dns:///eduscore:50051", False),
        ("[2001:db8::1]:50051", False),
    ],
)
def test_loopback_addresses(address: str, local: bool) -> None:
    from eduscore.pipelines.connect import is_loopback

    assert is_loopback(address) is local
