"""The proto is the contract: a Node.js client (@grpc/grpc-js) gets the Python client's scores."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from eduscore.v1 import eduscore_pb2 as pb

from .conftest import ROOT
from .snippets import CI_YAML, SETTINGS, SMALL, TEXTBOOK

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    npm = shutil.which("npm")
    if not exe or not npm:
        pytest.fail("node and npm are required (Node.js 18+)")
    if not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return exe


def test_node_client_matches_python(node: str, server, stub) -> None:
    snippets = [
        {"id": str(i), "code": c} for i, c in enumerate([TEXTBOOK, SETTINGS, CI_YAML, *SMALL[:3]])
    ]
    out = subprocess.run(
        [node, str(NODE_DIR / "client.js"), server.address, str(ROOT / "proto")],
        input=json.dumps(snippets),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    expected = [
        stub.Score(pb.ScoreRequest(snippet=pb.Snippet(**s)), timeout=30).score for s in snippets
    ]
    for call in ("unary", "batch", "stream"):
        assert [r["id"] for r in got[call]] == [s["id"] for s in snippets], call
        for r, exp in zip(got[call], expected, strict=True):
            assert r["score"] == pytest.approx(exp, abs=1e-6), call
    assert got["invalid_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
