"""The image: built from the Dockerfile with buildah, run as its unprivileged user, checked from
the host over loopback (gRPC health, a real Score, /metrics), then stopped with SIGTERM.

Needs root, buildah and debootstrap (`.ci/system-deps.sh`). Skipped when buildah is not installed
and CI is not set; anything else missing (buildah in CI, root, the base script) is a failure.
The image is tagged by a hash of its build context, so a rerun with unchanged sources reuses it;
a fresh machine builds the base and the image once (~10 min on 2 cores).
EDUSCORE_TEST_BASE_IMAGE names another base image than the local stand-in.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

from .conftest import (
    MODEL_DIR,
    ROOT,
    RunningServer,
    free_port,
    shipped_encoder_name,
    wait_serving,
)
from .snippets import GENERATED, TEXTBOOK

pytestmark = pytest.mark.slow

BASE_SCRIPT = ROOT.parent / "shared" / "tools" / "local-base-image.sh"
IMAGE_REPO = "localhost/eduscore"
TORCH_WHEELS = Path("/opt/wheels")
BASE_TIMEOUT_S = 1200
BUILD_TIMEOUT_S = 1800
STOP_TIMEOUT_S = 60
#: What the build reads (see .dockerignore); a change to any of these makes a new tag.
CONTEXT = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "service", "models")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _require(ok: bool, reason: str) -> None:
    """Skip when something is missing on a developer's machine; fail in CI."""
    if ok:
        return
    if _in_ci():
        pytest.fail(f"{reason}; CI must run the container test (see .ci/system-deps.sh)")
    pytest.skip(f"{reason} (run .ci/system-deps.sh, or set CI=true to make this a failure)")


def _run(cmd: list[str], timeout: float, log: Path | None = None) -> str:
    """Run a command; on failure or timeout, fail with the tail of its output."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"timed out after {timeout:.0f}s: {' '.join(cmd)}\n{(out or '')[-4000:]}")
    if log is not None:
        log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        pytest.fail(
            f"exit {proc.returncode}: {' '.join(cmd)}\n{(proc.stdout + proc.stderr)[-4000:]}"
        )
    return proc.stdout


def _torch_wheel_dir() -> Path | None:
    """The machine's folder of CPU torch wheels, if it has one (else the PyTorch CPU index)."""
    if TORCH_WHEELS.is_dir() and any(TORCH_WHEELS.glob("torch-*+cpu-*.whl")):
        return TORCH_WHEELS
    return None


def context_hash(extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for entry in CONTEXT:
        path = ROOT / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            rel = file.relative_to(ROOT).as_posix()
            if "__pycache__" in rel or rel.endswith(".pyc") or ".egg-info" in rel:
                continue
            digest.update(rel.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _image_exists(buildah: str, name: str) -> bool:
    return (
        subprocess.run(
            [buildah, "inspect", "--type", "image", name], capture_output=True, check=False
        ).returncode
        == 0
    )


def _remove_stale_tags(buildah: str, keep: str) -> None:
    """Drop older test tags of this image so reruns do not fill the disk (layers stay cached)."""
    listing = subprocess.run(
        [buildah, "images", "--json", IMAGE_REPO], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0 or not listing.stdout.strip():
        return
    for image in json.loads(listing.stdout):
        for name in image.get("names") or []:
            if name.startswith(f"{IMAGE_REPO}:test-") and name != keep:
                subprocess.run([buildah, "rmi", name], capture_output=True, check=False)


@pytest.fixture(scope="module")
def buildah() -> str:
    path = shutil.which("buildah")
    _require(path is not None, "buildah is not installed")
    # Past this point nothing is skipped: a machine with buildah must be able to run this.
    assert os.geteuid() == 0, "building with buildah --isolation chroot and debootstrap needs root"
    assert path is not None
    return path


@pytest.fixture(scope="module")
def image(buildah: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The image of the current sources: reused if its tag exists, else built (base included)."""
    wheels = _torch_wheel_dir()
    base = os.environ.get("EDUSCORE_TEST_BASE_IMAGE", "")
    tag = f"{IMAGE_REPO}:test-{context_hash(f'{base}|{wheels}')}"
    if _image_exists(buildah, tag):
        return tag
    logs = tmp_path_factory.mktemp("build")
    if not base:
        # The script apt-installs debootstrap itself if it is missing.
        assert BASE_SCRIPT.is_file(), f"{BASE_SCRIPT} is missing: set EDUSCORE_TEST_BASE_IMAGE"
        out = _run(["bash", str(BASE_SCRIPT)], BASE_TIMEOUT_S, logs / "base.log")
        base = out.strip().splitlines()[-1]
    cmd = [
        buildah, "bud", "--isolation", "chroot", "--layers", "--format", "docker",
        "--network", "host", "--build-arg", f"BASE_IMAGE={base}", "-t", tag,
    ]  # fmt: skip
    if Path("/etc/ssl/certs").is_dir():
        # The host's CA bundle: reaching PyPI may go through a proxy with its own CA.
        cmd += ["-v", "/etc/ssl/certs:/etc/ssl/certs:ro"]
    if wheels is not None:
        cmd += ["-v", f"{wheels}:/wheels:ro", "--build-arg", "TORCH_FIND_LINKS=/wheels"]
    started = time.monotonic()
    _run([*cmd, "-f", str(ROOT / "Dockerfile"), str(ROOT)], BUILD_TIMEOUT_S, logs / "build.log")
    print(f"built {tag} in {time.monotonic() - started:.0f}s")
    _remove_stale_tags(buildah, tag)
    return tag


@pytest.fixture(scope="module")
def config(buildah: str, image: str) -> dict:
    out = _run([buildah, "inspect", "--type", "image", image], 60)
    return json.loads(out)["Docker"]["config"]


def _descendant_running(root_pid: int, pattern: str) -> int | None:
    """The pid of a process under `root_pid` whose command line matches `pattern`."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo = list(children.get(root_pid, []))
    while todo:
        pid = todo.pop()
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if re.search(pattern, cmdline) and not cmdline.startswith("buildah"):
            return pid
        todo.extend(children.get(pid, []))
    return None


@pytest.fixture(scope="module")
def container(
    buildah: str, image: str, config: dict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, str]]:
    """The image's ENTRYPOINT + CMD, as its own user, on free loopback ports of the host."""
    name = f"eduscore-test-{os.getpid()}"
    subprocess.run([buildah, "rm", name], capture_output=True, check=False)
    _run([buildah, "from", "--pull-never", "--name", name, image], 120)
    port, metrics_port, http_port = free_port(), free_port(), free_port()
    env = {
        "EDUSCORE_HOST": "127.0.0.1",
        "EDUSCORE_PORT": str(port),
        "EDUSCORE_METRICS_HOST": "127.0.0.1",
        "EDUSCORE_METRICS_PORT": str(metrics_port),
        "EDUSCORE_HTTP_PORT": str(http_port),
    }
    command = [*config["Entrypoint"], *config["Cmd"]]
    log_path = tmp_path_factory.mktemp("container") / "server.log"
    process = subprocess.Popen(
        [
            buildah, "run", "--isolation", "chroot", name, "--",
            "env", *(f"{k}={v}" for k, v in env.items()), *command,
        ],
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    server = RunningServer(
        address,
        f"http://127.0.0.1:{metrics_port}/metrics",
        process,
        log_path,
        http_url=f"http://127.0.0.1:{http_port}",
    )
    try:
        wait_serving(address, process, log_path)
        yield server, name
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        subprocess.run([buildah, "rm", name], capture_output=True, check=False)


def test_image_config(buildah: str, image: str, config: dict) -> None:
    assert config["User"] == "10001:10001"
    assert {"50051/tcp", "9100/tcp", "8000/tcp"} <= set(config["ExposedPorts"])
    assert config["StopSignal"] == "SIGTERM"
    assert "eduscore.healthcheck" in " ".join(config["Healthcheck"]["Test"])
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["EDUSCORE_MODEL_DIR"] == "/app/models/current"
    assert float(env["EDUSCORE_GRACE_PERIOD_S"]) > 0
    assert env["EDUSCORE_HTTP_PORT"] == "8000"
    assert config["Entrypoint"] == ["eduscore"] and config["Cmd"] == ["serve"]
    listing = json.loads(_run([buildah, "images", "--json", image], 60))
    size = listing[0]["size"]
    number, unit = size.split()
    gigabytes = float(number) * {"kB": 1e-6, "MB": 1e-3, "GB": 1.0}[unit]
    # A CUDA build of torch, or a lost clean-up step, would be several GB more.
    assert gigabytes < 2.5, f"image is {size}"


def test_container_serves_scores_and_metrics(
    container: tuple[RunningServer, str], buildah: str, config: dict
) -> None:
    server, name = container
    # The image's own HEALTHCHECK command, run inside the container next to the server.
    port = server.address.rsplit(":", 1)[1]
    check = config["Healthcheck"]["Test"]
    assert check[0] == "CMD-SHELL"
    out = _run(
        [buildah, "run", "--isolation", "chroot", name, "--",
         "env", f"EDUSCORE_PORT={port}", "sh", "-c", check[1]],
        60,
    )  # fmt: skip
    assert "SERVING" in out

    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="eduscore.v1.EduScorer"), timeout=5
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        stub = eduscore_pb2_grpc.EduScorerStub(channel)
        info = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
        metadata = json.loads((MODEL_DIR / "metadata.json").read_text())
        assert info.embedding_model == shipped_encoder_name()
        assert info.model_version == metadata["model_version"]
        result = stub.Score(pb.ScoreRequest(snippet=pb.Snippet(id="bs", code=TEXTBOOK)), timeout=60)
        assert result.id == "bs" and result.model_version == info.model_version
        assert 0.0 <= result.score <= 5.0 and result.n_tokens > 0
        # The real model: a textbook-style function is kept, generated code is not.
        assert result.keep, result
        generated = stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code=GENERATED)), timeout=60)
        assert generated.score + 1.0 < result.score, (generated, result)

    # The HTTP/JSON API of the same process (aiohttp is in the image's `server` extra).
    body = json.dumps({"snippet": {"id": "h", "code": TEXTBOOK}}).encode()
    request = urllib.request.Request(f"{server.http_url}/v1/score", data=body, method="POST")
    over_http = json.loads(urllib.request.urlopen(request, timeout=60).read())
    assert over_http["id"] == "h" and abs(over_http["score"] - result.score) < 1e-6

    body = urllib.request.urlopen(server.metrics_url, timeout=10).read().decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    assert samples[("eduscore_ready", ())] == 1.0
    labels = {"grpc_type": "unary", "grpc_service": "eduscore.v1.EduScorer"}
    score_ok = {**labels, "grpc_method": "Score", "grpc_code": "OK"}
    assert samples[("grpc_server_handled_total", tuple(sorted(score_ok.items())))] >= 2.0
    assert samples[("eduscore_snippets_scored_total", ())] >= 2.0
    assert any(
        name == "eduscore_model_info" and ("model_version", info.model_version) in key
        for name, key in samples
    )


def test_container_server_allocates_with_jemalloc(container: tuple[RunningServer, str]) -> None:
    server, _ = container
    pid = _descendant_running(server.process.pid, r"\beduscore serve\b")
    assert pid is not None, server.log()
    assert "libjemalloc.so" in Path(f"/proc/{pid}/maps").read_text()


def test_container_stops_cleanly_on_sigterm(container: tuple[RunningServer, str]) -> None:
    server, _ = container
    # `buildah run` kills its child rather than forwarding SIGTERM, so signal the server itself,
    # as `docker stop` signals the container's PID 1 (the exec-form ENTRYPOINT).
    pid = _descendant_running(server.process.pid, r"\beduscore serve\b")
    assert pid is not None, server.log()
    os.kill(pid, signal.SIGTERM)
    started = time.monotonic()
    code = server.process.wait(STOP_TIMEOUT_S)
    assert code == 0, server.log()
    assert time.monotonic() - started < STOP_TIMEOUT_S
    assert '"message": "stopped"' in server.log()
