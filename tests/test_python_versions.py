"""eduscore on Debian's newer Pythons (3.13: trixie, 3.14: forky), against this 3.11 run.

In each root (.ci/debian-root.sh) pip installs this checkout twice, as the client alone and with
`[fast]`. The client scores on the session's 3.11 server as the 3.11 client does; the fast
install has no torch, measures every corpus unit's signals exactly as 3.11 does here, passes
tests/test_python_signals.py, and serves the fast tier with 3.11's scores (within 1e-5) and keep
decisions. Both sides are computed in this run: the model and the signals change, so no numbers
are stored. Without root or debootstrap the module skips, except in CI, where it fails.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eduscore.client import EduScoreClient, SnippetIn
from eduscore.scoring.features import FEATURE_NAMES

from .conftest import CORPUS, ROOT, free_port, wait_serving
from .debian_root import SUITES, DebianRoot, make_root, stage, unstage, venv
from .snippets import SETTINGS, SMALL, TEXTBOOK

#: What only the full tier needs: none of it may be in a client or `[fast]` install.
FULL_ONLY = ("torch", "sklearn", "sentence_transformers", "skops", "threadpoolctl", "scipy")
PROBE = ROOT / "tests" / "version_probe.py"
TOLERANCE = 1e-5
#: Snippets that later Pythons read differently from 3.11 unless the signals see to it.
PROBES = {
    "pep695": "class Stack[T]:\n    def push(self, item: T) -> None:\n        self.items += [item]",
    "pep701": 'def greet(user):\n    """Say hello."""\n    return f"Hello {user["name"]}!"\n',
    "pep750": 'def page(name):\n    return t"<p>{name}</p>"\n',
    "pep758": "try:\n    run()\nexcept ValueError, TypeError:\n    pass\n",
    "fstrings": "def pad(x, w):\n    return f\"{x!r:>{w}} {x=} {'}'}\" rf'\\d{w}'\n",
    "stdlib": "import distutils.core\nimport imp\nfrom cgi import escape\n\nescape(imp)\n",
    "builtins": "def stop():\n    raise PythonFinalizationError('late')\n",
    "stub": "def f():\n    raise a(b(), c()) from NotImplementedError()\n",
    "escapes": "import re\nDIGITS = re.compile('\\d+\\.\\d*')\n",
}


@dataclass(frozen=True)
class Installed:
    """A root with the client (`{run}/client`) and `[fast]` (`{run}/fast`) installed."""

    root: DebianRoot
    run: str  # the run's directory inside the root: src/ (package, tests, model), venvs

    def bin(self, venv_name: str, tool: str) -> str:
        return f"{self.run}/{venv_name}/bin/{tool}"


def corpus_rows() -> list[dict[str, str]]:
    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    return [{"id": r["id"], "code": r["code"]} for r in rows]


def jsonl(rows: list[dict[str, str]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture(scope="session")
def signal_rows() -> list[dict[str, str]]:
    return corpus_rows() + [{"id": f"probe:{k}", "code": v} for k, v in PROBES.items()]


@pytest.fixture(scope="session")
def signals_311(signal_rows: list[dict[str, str]]) -> dict[str, Any]:
    """What this 3.11 build measures, by the same script the roots run."""
    out = subprocess.run(
        [sys.executable, str(PROBE), "signals"],
        input=jsonl(signal_rows),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return {r["id"]: r for r in map(json.loads, out.stdout.splitlines())}


@pytest.fixture(scope="session")
def fast_311(server) -> dict[str, tuple[float, bool]]:
    """The session's 3.11 server's fast-tier score and keep decision of every corpus unit."""
    rows = corpus_rows()
    with EduScoreClient(server.address, timeout_s=300) as client:
        return _scored(client, rows, tier="fast")


def _scored(
    client: EduScoreClient, rows: list[dict[str, str]], tier: str | None
) -> dict[str, tuple[float, bool]]:
    out: dict[str, tuple[float, bool]] = {}
    for i in range(0, len(rows), 64):
        batch = [SnippetIn(code=r["code"], id=r["id"]) for r in rows[i : i + 64]]
        out.update((r.id, (r.score, r.keep)) for r in client.score_batch(batch, tier=tier))
    return out


@pytest.fixture(scope="module", params=sorted(SUITES))
def installed(request: pytest.FixtureRequest) -> Iterator[Installed]:
    root = make_root(request.param)
    run = stage(root)
    try:
        venv(root, f"{run}/client", f"{run}/src")
        venv(root, f"{run}/fast", f"{run}/src[fast]")
        yield Installed(root, run)
    finally:
        unstage(root, run)


def _importable(inst: Installed, venv_name: str, modules: tuple[str, ...]) -> list[str]:
    """Those of `modules` the venv's own Python finds."""
    code = "import importlib.util as u, json, sys\n"
    code += "print(json.dumps([m for m in sys.argv[1:] if u.find_spec(m)]))"
    out = inst.root.run(inst.bin(venv_name, "python"), "-c", code, *modules)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_client_install_scores_as_the_311_client(installed: Installed, server) -> None:
    assert _importable(installed, "client", (*FULL_ONLY, "numpy")) == []
    rows = [{"id": str(i), "code": c} for i, c in enumerate([TEXTBOOK, SETTINGS, *SMALL])]
    probe = f"{installed.run}/src/tests/version_probe.py"
    got = installed.root.run(
        installed.bin("client", "python"), probe, "client", server.address, stdin=jsonl(rows)
    )
    assert got.returncode == 0, got.stderr[-4000:]
    want = subprocess.run(
        [sys.executable, str(PROBE), "client", server.address],
        input=jsonl(rows),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert want.returncode == 0, want.stderr[-4000:]
    mine, theirs = json.loads(got.stdout), json.loads(want.stdout)
    assert mine["heavy"] == [] and mine["model_version"] == theirs["model_version"]
    for key in ("batch", "stream"):
        _same_results(mine[key], theirs[key])
    _same_results([mine["one"]], [theirs["one"]])

    cli = installed.root.run(
        installed.bin("client", "eduscore"),
        "score",
        "-",
        "--server",
        server.address,
        stdin=jsonl(rows),
    )
    assert cli.returncode == 0, cli.stderr
    _same_results([json.loads(line) for line in cli.stdout.splitlines()], theirs["batch"])

    serve = installed.root.run(installed.bin("client", "eduscore"), "serve", "--port", "0")
    assert serve.returncode == 2 and "Traceback" not in serve.stderr
    assert "eduscore[server]" in serve.stderr and "eduscore[fast]" in serve.stderr


def _same_results(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [(r["id"], r["keep"], r["label"], r["tier"]) for r in got] == [
        (r["id"], r["keep"], r["label"], r["tier"]) for r in want
    ]
    for g, w in zip(got, want, strict=True):
        assert g["score"] == pytest.approx(w["score"], abs=TOLERANCE), g["id"]


def test_fast_install_has_no_torch(installed: Installed, record_property) -> None:
    assert _importable(installed, "fast", FULL_ONLY) == []
    du = subprocess.run(
        ["du", "-sm", str(installed.root.on_host(f"{installed.run}/fast"))],
        capture_output=True,
        text=True,
        check=True,
    )
    record_property("fast_venv_mb", int(du.stdout.split()[0]))


def test_every_corpus_unit_measures_as_on_311(
    installed: Installed, signal_rows: list[dict[str, str]], signals_311: dict[str, Any]
) -> None:
    probe = f"{installed.run}/src/tests/version_probe.py"
    got = installed.root.run(
        installed.bin("fast", "python"), probe, "signals", stdin=jsonl(signal_rows)
    )
    assert got.returncode == 0, got.stderr[-4000:]
    measured = {r["id"]: r for r in map(json.loads, got.stdout.splitlines())}
    assert measured.keys() == signals_311.keys()
    differ = {k: _differences(v, signals_311[k]) for k, v in measured.items()}
    differ = {k: v for k, v in differ.items() if v}
    assert not differ, (
        f"{len(differ)} units measure otherwise than on 3.11: {list(differ.items())[:20]}"
    )


def _differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """The signals (and `parses`) in which two measurements of one snippet differ at all."""
    pairs = zip(FEATURE_NAMES, got["signals"], want["signals"], strict=True)
    return [n for n, a, b in pairs if a != b] + (
        ["parses"] if got["parses"] != want["parses"] else []
    )


def test_version_sensitive_unit_tests_pass(installed: Installed) -> None:
    pip = installed.root.run(installed.bin("fast", "pip"), "install", "-q", "pytest")
    assert pip.returncode == 0, pip.stderr[-4000:]
    tests = f"{installed.run}/src/tests/test_python_signals.py"
    out = installed.root.run(
        installed.bin("fast", "python"),
        "-m",
        "pytest",
        "-q",
        "--noconftest",
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::pytest.PytestConfigWarning",
        tests,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "failed" not in out.stdout


def test_fast_tier_serves_as_on_311(
    installed: Installed, fast_311: dict[str, tuple[float, bool]], tmp_path: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "server.log"
    command = installed.root.command(
        installed.bin("fast", "eduscore"),
        "serve",
        "--tier",
        "fast",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--metrics-port",
        "-1",
        "--http-port",
        "-1",
        "--model-dir",
        f"{installed.run}/src/model",
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_serving(f"127.0.0.1:{port}", process, log_path)
        with EduScoreClient(f"127.0.0.1:{port}", timeout_s=300) as client:
            assert client.model_info().default_tier == "fast"
            served = _scored(client, corpus_rows(), tier=None)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
    assert code == 0, log_path.read_text()
    assert served.keys() == fast_311.keys()
    far = {
        k: (v[0], fast_311[k][0])
        for k, v in served.items()
        if abs(v[0] - fast_311[k][0]) > TOLERANCE
    }
    assert not far, (
        f"{len(far)} scores differ from 3.11's by over {TOLERANCE}: {list(far.items())[:10]}"
    )
    flipped = [k for k, v in served.items() if v[1] != fast_311[k][1]]
    assert not flipped, f"keep decisions differ from 3.11's: {flipped[:10]}"
