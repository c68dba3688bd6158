"""`pip install '.[ray,datatrove]'` into a fresh venv: the fast tier everywhere, and no torch.

Both pipeline extras bring `eduscore[fast]`, not the full stack: no torch, sentence-transformers
or scikit-learn. There `eduscore serve --tier fast`, in-process `eduscore filter --tier fast` and
the Ray Data and datatrove blocks with tier="fast" run, and score as the session's full install
scores the fast tier. This keeps every import on those paths lazy enough.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from eduscore.client import EduScoreClient, SnippetIn

from .conftest import MODEL_DIR, ROOT, free_port, wait_serving
from .snippets import CI_YAML, GENERATED, SETTINGS, SMALL, TEXTBOOK
from .test_install import _clean_env, _run

FULL_ONLY = ("torch", "sklearn", "sentence_transformers", "skops", "threadpoolctl", "scipy")
ROWS = [{"id": f"f{i}", "code": c} for i, c in enumerate([TEXTBOOK, SETTINGS, GENERATED, CI_YAML])]
ROWS += [{"id": f"s{i}", "code": c} for i, c in enumerate(SMALL)]

PIPELINES = """
import json, sys, tempfile
from pathlib import Path
model, rows = sys.argv[1], json.loads(sys.stdin.read())
import ray
from eduscore.pipelines.ray_data import filter_dataset
for attempt in (1, 2):  # the raylet gets 30 s to start: one more try on a busy machine
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        break
    except Exception:
        ray.shutdown()
        if attempt == 2:
            raise
ds = filter_dataset(ray.data.from_items(rows), concurrency=1, batch_size=3, threshold=0.0,
                    model_dir=model, tier="fast")
by_ray = {r["id"]: r["edu_score"] for r in ds.take_all()}
ray.shutdown()
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from eduscore.pipelines.datatrove_block import EduScoreFilterBlock
tmp = Path(tempfile.mkdtemp())
(tmp / "in").mkdir()
(tmp / "in" / "rows.jsonl").write_text("".join(json.dumps(r) + "\\n" for r in rows))
LocalPipelineExecutor(pipeline=[
    JsonlReader(str(tmp / "in"), text_key="code"),
    EduScoreFilterBlock(threshold=0.0, batch_size=3, model_dir=model, tier="fast"),
    JsonlWriter(str(tmp / "kept"), compression=None),
], tasks=1, logging_dir=str(tmp / "logs")).run()
kept = [json.loads(line) for f in (tmp / "kept").glob("*.jsonl") for line in f.open()]
by_datatrove = {d["id"]: d["metadata"]["edu_score"] for d in kept}
heavy = [m for m in ("torch", "sklearn", "sentence_transformers", "scipy") if m in sys.modules]
print(json.dumps({"ray": by_ray, "datatrove": by_datatrove, "heavy": heavy}))
"""


@pytest.fixture(scope="module")
def fast_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("fast-install") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    src = _source_copy(tmp_path_factory.mktemp("fast-src"))
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"{src}[ray,datatrove]"],
        capture_output=True,
        text=True,
        timeout=1200,
        env=_clean_env(),
    )
    assert pip.returncode == 0, pip.stderr[-4000:]
    return venv


def _source_copy(tmp: Path) -> Path:
    """The package's sources, without build leftovers (pip builds in the tree it is given)."""
    tmp.mkdir(exist_ok=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    shutil.copytree(ROOT / "service", tmp / "service", ignore=skip)
    return tmp


@pytest.fixture(scope="module")
def fast_scores(server) -> dict[str, float]:
    """The session server's (a full install's) fast-tier scores of ROWS."""
    with EduScoreClient(server.address) as client:
        results = client.score_batch([SnippetIn(r["code"], id=r["id"]) for r in ROWS], tier="fast")
    return {r.id: r.score for r in results}


def _close(got: dict[str, float], want: dict[str, float]) -> None:
    assert got.keys() == want.keys()
    for key, score in got.items():
        assert score == pytest.approx(want[key], abs=1e-5), key


def test_wheel_builds_without_deprecation_for_every_python_from_311(tmp_path: Path) -> None:
    src = _source_copy(tmp_path / "src")
    # -v: pip shows the build backend's warnings only when verbose
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
        env=_clean_env(),
    )
    assert built.returncode == 0, built.stderr[-4000:]
    log = (built.stdout + built.stderr).lower()
    assert "deprecat" not in log, log[log.find("deprecat") - 2000 :][:4000]
    (wheel,) = tmp_path.glob("eduscore-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith("METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "Requires-Python: >=3.11\n" in metadata  # no upper bound


def test_no_full_tier_module_is_installed(fast_venv: Path) -> None:
    code = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    out = _run(fast_venv, "python", "-c", code, *FULL_ONLY)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_serve_tier_fast(fast_venv: Path, fast_scores: dict[str, float], tmp_path: Path) -> None:
    port, http_port, log_path = free_port(), free_port(), tmp_path / "server.log"
    command = [str(fast_venv / "bin" / "eduscore"), "serve", "--tier", "fast", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--metrics-port", "-1", "--http-port", str(http_port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--model-dir", str(MODEL_DIR)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_clean_env(),
        )
    try:
        wait_serving(f"127.0.0.1:{port}", process, log_path)
        with EduScoreClient(f"127.0.0.1:{port}") as client:
            results = client.score_batch([SnippetIn(r["code"], id=r["id"]) for r in ROWS])
        body = json.dumps({"snippet": {"code": TEXTBOOK}}).encode()
        url = f"http://127.0.0.1:{http_port}/v1/score"
        with urllib.request.urlopen(url, data=body, timeout=30) as reply:  # the HTTP API too
            assert json.loads(reply.read())["tier"] == "fast"
    finally:
        process.terminate()
        assert process.wait(60) == 0, log_path.read_text()
    assert {r.tier for r in results} == {"fast"}
    _close({r.id: r.score for r in results}, fast_scores)

    full = _run(fast_venv, "eduscore", "serve", "--port", "0", "--model-dir", str(MODEL_DIR))
    assert full.returncode == 2 and "Traceback" not in full.stderr
    assert "eduscore[server]" in full.stderr and "--tier fast runs without it" in full.stderr


def test_filter_tier_fast_in_process(
    fast_venv: Path, fast_scores: dict[str, float], tmp_path: Path
) -> None:
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out = _run(
        fast_venv,
        "eduscore",
        *("filter", "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")),
        *("--tier", "fast", "--all", "--workers", "2", "--no-progress"),
        *("--model-dir", str(MODEL_DIR)),
    )
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").open()]
    _close({r["id"]: r["edu_score"] for r in rows}, fast_scores)


def test_ray_and_datatrove_blocks_tier_fast(fast_venv: Path, fast_scores: dict[str, float]) -> None:
    out = subprocess.run(
        [str(fast_venv / "bin" / "python"), "-c", PIPELINES, str(MODEL_DIR)],
        input=json.dumps(ROWS),
        capture_output=True,
        text=True,
        timeout=600,
        env={**_clean_env(), "HF_HUB_OFFLINE": "1"},
        cwd=fast_venv,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    reply = json.loads(out.stdout.splitlines()[-1])
    assert reply["heavy"] == []
    _close(reply["ray"], fast_scores)
    _close(reply["datatrove"], fast_scores)
