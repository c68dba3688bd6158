"""Debian roots with newer Pythons (.ci/debian-root.sh) and eduscore installed in them by pip.

A command runs chrooted into the root in a private mount namespace (`unshare --mount`), where
/proc is mounted for that command's life only, with a clean environment: pip reaches PyPI
through the host's CA bundle (copied in), and none of the host's pip configuration comes along
(its local wheel folders hold 3.11 wheels). The root shares the host's network, so a server in
it answers on the host's loopback and a client in it reaches the host's servers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import MODEL_DIR, ROOT

#: Python version -> the Debian suite whose root has it.
SUITES = {"3.13": "trixie", "3.14": "forky"}
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
_CA_IN_ROOT = "/etc/ssl/certs/host-ca-bundle.crt"
_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "PIP_CERT": _CA_IN_ROOT,
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_DEFAULT_TIMEOUT": "180",
    "PIP_NO_INPUT": "1",
    "HF_HUB_OFFLINE": "1",
}
#: mount /proc, then become the command: a signal to the process reaches the command itself.
_ENTER = 'mount -t proc proc "$0/proc" && exec chroot "$0" /usr/bin/env -i "$@"'


@dataclass(frozen=True)
class DebianRoot:
    """A root (`path` on the host) and the Python it was made for (`python3.13`)."""

    path: Path
    python: str

    def command(self, *command: str) -> list[str]:
        """The host command that runs `command` inside the root."""
        env = [f"{k}={v}" for k, v in _ENV.items()]
        enter = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _ENTER]
        return [*enter, str(self.path), *env, *command]

    def run(
        self, *command: str, stdin: str | None = None, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*command), input=stdin, capture_output=True, text=True, timeout=timeout
        )

    def on_host(self, inner: str) -> Path:
        """Where a path inside the root is on the host."""
        return self.path / inner.lstrip("/")


def make_root(version: str) -> DebianRoot:
    """The root for Python `version`, built or reused. Where it cannot be made the test skips,
    but not in CI (`CI` set): there it fails, so the checks cannot silently stop running."""
    suite = SUITES[version]
    why = _cannot_build()
    if why is None:
        script = ROOT / ".ci" / "debian-root.sh"
        built = subprocess.run(
            ["bash", str(script), suite, version], capture_output=True, text=True, timeout=1800
        )
        if built.returncode == 0:
            return DebianRoot(Path(built.stdout.split()[-1]), f"python{version}")
        why = f".ci/debian-root.sh {suite} {version} failed:\n{built.stderr[-4000:]}"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the Python {version} checks, but: {why}")
    pytest.skip(f"no Debian {suite} root for Python {version}: {why}")


def _cannot_build() -> str | None:
    if os.geteuid() != 0:
        return "debootstrap, chroot and unshare need root"
    for tool in ("unshare", "chroot", "flock", "mount"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            return f"{tool} is not installed"
    if not HOST_CA_BUNDLE.is_file():
        return f"no CA bundle at {HOST_CA_BUNDLE} to give pip"
    return None


def stage(root: DebianRoot) -> str:
    """Copy this checkout's package and model (less the full tier's encoder) into the root, with
    the host's DNS and CA bundle; returns the run's directory inside the root."""
    shutil.copyfile("/etc/resolv.conf", root.on_host("/etc/resolv.conf"))
    shutil.copyfile(HOST_CA_BUNDLE, root.on_host(_CA_IN_ROOT))
    run_dir = f"/eduscore-run-{uuid.uuid4().hex[:8]}"
    src = root.on_host(run_dir) / "src"
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    shutil.copytree(ROOT / "service", src / "service", ignore=skip)
    shutil.copytree(ROOT / "tests", src / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(MODEL_DIR, src / "model", ignore=shutil.ignore_patterns("encoder"))
    return run_dir


def venv(root: DebianRoot, path: str, requirement: str) -> None:
    """`python -m venv path && path/bin/pip install requirement` inside the root."""
    made = root.run(root.python, "-m", "venv", path)
    assert made.returncode == 0, made.stderr[-4000:]
    pip = root.run(f"{path}/bin/pip", "install", "-q", requirement)
    assert pip.returncode == 0, pip.stderr[-4000:]


def unstage(root: DebianRoot, run_dir: str) -> None:
    shutil.rmtree(root.on_host(run_dir), ignore_errors=True)
