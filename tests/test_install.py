"""`pip install eduscore` with no extras, into a fresh venv: a client, no torch, no server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT
from .snippets import TEXTBOOK

#: What the server extra brings and a client-only install must not have.
SERVER_ONLY = ("torch", "sklearn", "sentence_transformers", "numpy", "aiohttp", "grpc_health")

CLIENT_SCRIPT = """
import json, sys
from eduscore.client import EduScoreClient
with EduScoreClient(sys.argv[1]) as client:
    result = client.score(sys.argv[2], id="fresh")
    info = client.model_info()
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"id": result.id, "score": result.score, "version": info.model_version,
                  "heavy": heavy}}))
"""


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("client-install")
    src = tmp / "src"  # a copy: pip must not leave build/ or egg-info in the work tree
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "service", src / "service", ignore=skip)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(src)],
        capture_output=True,
        text=True,
        timeout=900,
        env=_clean_env(),
    )
    assert pip.returncode == 0, pip.stderr[-4000:]
    return venv


def _clean_env() -> dict[str, str]:
    """The environment without this checkout on PYTHONPATH: the venv must use what pip put in."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(venv: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
        cwd=venv,  # not the checkout, whose service/ is not importable from here anyway
    )


def test_client_only_install_scores_without_torch(client_venv: Path, server, stub) -> None:
    no_torch = _run(client_venv, "python", "-c", "import torch")
    assert no_torch.returncode != 0 and "No module named 'torch'" in no_torch.stderr

    script = CLIENT_SCRIPT.format(heavy=SERVER_ONLY)
    out = _run(client_venv, "python", "-c", script, server.address, TEXTBOOK)
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert reply["id"] == "fresh" and reply["score"] > 0 and reply["version"]
    assert reply["heavy"] == []
    where = _run(client_venv, "python", "-c", "import eduscore; print(eduscore.__file__)")
    assert str(client_venv) in where.stdout  # the installed copy, not the checkout

    row = json.dumps({"id": "cli", "code": TEXTBOOK}) + "\n"
    scored = _run(client_venv, "eduscore", "score", "-", "--server", server.address, stdin=row)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["id"] == "cli"

    serve = _run(client_venv, "eduscore", "serve", "--port", "0", "--http-port", "-1")
    assert serve.returncode == 2
    assert "eduscore[server]" in serve.stderr and "Traceback" not in serve.stderr
