"""The wheel carries the whole shipped model: built with `pip wheel`, installed with [server] into a
fresh venv, started outside the checkout, it serves every tier with the checkout's scores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from eduscore.scoring.scorer import Snippet
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

from .conftest import MODEL_DIR, ROOT, free_port, wait_serving
from .snippets import CI_YAML, GENERATED, SETTINGS, SMALL, TEXTBOOK

pytestmark = pytest.mark.slow

#: Where a wheel puts the model (setup.py; config.MODEL_DATA_DIR under the install prefix).
DATA_PREFIX = "eduscore-0.1.0.data/data/share/eduscore/models/current/"
CODES = [TEXTBOOK, SETTINGS, GENERATED, CI_YAML, *SMALL]


def _clean_env() -> dict[str, str]:
    """No checkout on the path, no active venv: the fresh venv uses only what pip put in it."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("EDUSCORE_")}
    return {**env, "HF_HUB_OFFLINE": "1"}


def _pip(python: Path, *args: str, cwd: Path) -> None:
    out = subprocess.run(
        [str(python), "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        env=_clean_env(),
        cwd=cwd,
    )
    assert out.returncode == 0, out.stderr[-4000:]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` of a copy of the checkout (pip must not leave build/ here)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "setup.py"):
        shutil.copy(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "service", src / "service", ignore=skip)
    shutil.copytree(MODEL_DIR, src / "models" / "current")
    _pip(Path(sys.executable), "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), ".", cwd=src)
    (built,) = (tmp / "dist").glob("eduscore-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the CPU torch first (as the Makefile does), then the wheel [server]."""
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    _pip(python, "install", "-q", "torch==2.13.0", cwd=venv)
    _pip(python, "install", "-q", f"eduscore[server] @ {wheel.as_uri()}", cwd=venv)
    return venv


def _tracked_model_files() -> set[str]:
    """The files under models/current git tracks (a directory walk outside a git checkout)."""
    listed = subprocess.run(
        ["git", "ls-files", "models/current"], capture_output=True, text=True, cwd=ROOT
    )
    if listed.returncode == 0 and listed.stdout.strip():
        return {line.removeprefix("models/current/") for line in listed.stdout.splitlines()}
    return {p.relative_to(MODEL_DIR).as_posix() for p in MODEL_DIR.rglob("*") if p.is_file()}


def test_the_wheel_carries_every_file_of_the_shipped_model(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        carried = {
            name.removeprefix(DATA_PREFIX)
            for name in whl.namelist()
            if name.startswith(DATA_PREFIX)
        }
        tracked = _tracked_model_files()
        assert tracked - carried == set(), "model files missing from the wheel"
        for name in ("metadata.json", "fast/head.npz", "fast/static/model.safetensors"):
            if name in tracked:  # byte for byte, subdirectories included
                assert whl.read(DATA_PREFIX + name) == (MODEL_DIR / name).read_bytes()


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory with no models/ of its own, away from the checkout."""
    return tmp_path_factory.mktemp("elsewhere")


def test_the_installed_model_is_the_wheels_copy(venv: Path, outside: Path) -> None:
    code = "from eduscore.config import default_model_dir; print(default_model_dir())"
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
        cwd=outside,
    )
    assert out.returncode == 0, out.stderr
    found = Path(out.stdout.strip())
    assert found.is_relative_to(venv) and (found / "metadata.json").is_file(), found


@contextmanager
def _serve(venv: Path, cwd: Path, tier: str) -> Iterator[str]:
    """`eduscore serve --tier <tier>` of the venv, with no --model-dir, from `cwd`."""
    port = free_port()
    log_path = cwd / f"serve-{tier}.log"
    cmd = [str(venv / "bin" / "eduscore"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--metrics-port", "-1", "--http-port", "-1", "--tier", tier]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=_clean_env(), cwd=cwd
        )
    try:
        wait_serving(f"127.0.0.1:{port}", process, log_path)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.parametrize("tier", ["full", "fast", "cascade"])
def test_a_wheel_installed_server_scores_as_the_checkout(
    venv: Path, outside: Path, scorer, tier: str
) -> None:
    """Started outside the checkout, without --model-dir: the wheel's model, every tier."""
    expected = scorer.score_batch([Snippet(code=c, tier=tier) for c in CODES])
    with _serve(venv, outside, tier) as address, grpc.insecure_channel(address) as channel:
        stub = eduscore_pb2_grpc.EduScorerStub(channel)
        request = pb.ScoreBatchRequest(snippets=[pb.Snippet(code=c) for c in CODES])
        reply = stub.ScoreBatch(request, timeout=300)
        info = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=30)
    assert info.model_version == scorer.model_version and info.default_tier == tier
    for got, want in zip(reply.results, expected, strict=True):
        assert got.score == pytest.approx(want.score, abs=1e-6)
        assert (got.tier, got.n_tokens, got.language) == (want.tier, want.n_tokens, want.language)
