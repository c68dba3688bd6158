"""A real Prometheus scrapes the session's eduscore server every second and evaluates
deploy/prometheus/rules.yml; after real traffic, every PromQL expression of the Grafana dashboard
and of the rules returns data. Plus promtool's checks of the shipped config, rules and rule tests.

Needs Debian's `prometheus` package (/usr/bin/prometheus, /usr/bin/promtool; .ci/system-deps.sh).
Skipped without it unless CI is set, where a missing binary is a failure.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

from .conftest import ROOT, RunningServer, free_port
from .snippets import GENERATED, SMALL, TEXTBOOK

pytestmark = pytest.mark.slow

PROM_DIR = ROOT / "deploy" / "prometheus"
RULES = PROM_DIR / "rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "eduscore.json"
JOB = "eduscore"  # the job name rules.yml expects
#: What Grafana would put in place of the dashboard's variables.
VARIABLES = {"$__rate_interval": "1m", "${job}": JOB, "$job": JOB, "$instance": ".*"}
START_TIMEOUT_S = 60
DATA_TIMEOUT_S = 60


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else "")
    if not path:
        reason = f"{name} is not installed (Debian package prometheus; see .ci/system-deps.sh)"
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def _promtool(*args: str) -> str:
    proc = subprocess.run(
        [_binary("promtool"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_promtool_checks_rules() -> None:
    assert "SUCCESS" in _promtool("check", "rules", str(RULES))


def test_promtool_checks_config() -> None:
    assert "SUCCESS" in _promtool("check", "config", str(PROM_DIR / "prometheus.yml"))


def test_promtool_unit_tests_of_rules() -> None:
    assert "SUCCESS" in _promtool("test", "rules", str(PROM_DIR / "rules_test.yml"))


# --- a real Prometheus ------------------------------------------------------------------------


class Prometheus:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.url = url
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as reply:
            body = json.load(reply)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]


@pytest.fixture(scope="module")
def prometheus(
    server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """Prometheus on a free loopback port, scraping `server` every second, with rules.yml."""
    binary = _binary("prometheus")
    tmp = tmp_path_factory.mktemp("prometheus")
    target = urllib.parse.urlsplit(server.metrics_url)
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": target.path,
                "static_configs": [{"targets": [target.netloc]}],
            }
        ],
    }
    config_path = tmp / "prometheus.yml"
    config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    _promtool("check", "config", str(config_path))
    port = free_port()
    log_path = tmp / "prometheus.log"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ],
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=tmp,
    )
    prom = Prometheus(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait(
            lambda: prom.query(f'up{{job="{JOB}"}} == 1'),
            START_TIMEOUT_S,
            lambda: f"Prometheus never scraped {server.metrics_url}:\n{prom.log()}",
            process,
        )
        yield prom
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait(ready: Any, timeout_s: float, why: Any, process: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Prometheus exited {process.returncode}: {why()}")
        try:
            value = ready()
            if value:
                return value
        except (OSError, AssertionError, ValueError):
            pass
        time.sleep(0.5)
    pytest.fail(why())


def _drive_traffic(address: str) -> None:
    """Every RPC shape, an invalid request, repeats (cache hits) and an over-long snippet."""
    long_code = "".join(f"def step_{i}(x):\n    return x * {i} + {i}\n\n" for i in range(120))
    with grpc.insecure_channel(address) as channel:
        stub = eduscore_pb2_grpc.EduScorerStub(channel)
        stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=30)
        for code in (TEXTBOOK, GENERATED, long_code, TEXTBOOK, TEXTBOOK):
            stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code=code)), timeout=60)
        snippets = [pb.Snippet(id=str(i), code=c) for i, c in enumerate(SMALL)]
        stub.ScoreBatch(pb.ScoreBatchRequest(snippets=snippets), timeout=60)
        requests = [pb.ScoreRequest(snippet=s) for s in snippets]
        assert len(list(stub.ScoreStream(iter(requests), timeout=60))) == len(requests)
        with pytest.raises(grpc.RpcError) as bad:
            stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code="   ")), timeout=30)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def _drive_http(base: str) -> None:
    """The HTTP/JSON API's panels need a request or two (an OK score and a 400)."""
    for body in ({"snippet": {"code": TEXTBOOK}}, {"snippet": {"code": " "}}):
        req = urllib.request.Request(
            f"{base}/v1/score", data=json.dumps(body).encode(), method="POST"
        )
        try:
            urllib.request.urlopen(req, timeout=60).read()
        except urllib.error.HTTPError as exc:
            assert exc.code == 400


def dashboard_exprs() -> dict[str, str]:
    """`panel title [refId]` -> PromQL of every target of every panel (rows included)."""
    board = json.loads(DASHBOARD.read_text())
    out: dict[str, str] = {}

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                if target.get("expr"):
                    out[f"{panel['title']} [{target['refId']}]"] = target["expr"]

    walk(board["panels"])
    return out


def dashboard_variable_queries() -> dict[str, str]:
    """Template variables `label_values(selector, label)` -> `count by (label) (selector)`."""
    board = json.loads(DASHBOARD.read_text())
    out = {}
    for var in board["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip())
        assert match, f"variable {var['name']}: unsupported query {query!r}"
        out[f"variable {var['name']}"] = f"count by ({match[2]}) ({match[1]})"
    return out


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unknown dashboard variable in {expr!r}"
    return expr


_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)\s*(?=[-+]?[0-9.])")


def signal_of(alert_expr: str) -> str:
    """The alert's expression without its threshold: data whether or not the alert fires.

    `x > 0.05` becomes `x > bool 0.05` (0 or 1 for every series of x); `absent(x)` becomes `x`.
    """
    absent = re.fullmatch(r"\s*absent\((.*)\)\s*", alert_expr, re.DOTALL)
    if absent:
        return absent[1]
    return _COMPARISON.sub(lambda m: f"{m[1]} bool ", alert_expr)


def test_signal_of_keeps_the_expression_and_drops_thresholds() -> None:
    assert signal_of('up{job="x"} == 0') == 'up{job="x"} == bool 0'
    assert signal_of("a > 0.05\nand on (job)\nb > 1") == "a > bool 0.05\nand on (job)\nb > bool 1"
    assert signal_of('absent(up{job="x"})') == 'up{job="x"}'
    assert signal_of('rate(x{code!="OK"}[5m]) >= 1') == 'rate(x{code!="OK"}[5m]) >= bool 1'


def _finite(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


def test_every_dashboard_and_rule_expression_returns_data(
    prometheus: Prometheus, server: RunningServer
) -> None:
    rules = prometheus.api("rules")["groups"]
    loaded = [rule for group in rules for rule in group["rules"]]
    assert {r["type"] for r in loaded} == {"recording", "alerting"}, loaded
    exprs: dict[str, str] = {}
    for rule in loaded:
        if rule["type"] == "recording":
            exprs[f"rule {rule['name']}"] = rule["query"]
            exprs[f"recorded {rule['name']}"] = rule["name"]
        else:
            exprs[f"alert {rule['name']}"] = signal_of(rule["query"])
    exprs.update({k: substitute(v) for k, v in dashboard_exprs().items()})
    exprs.update({k: substitute(v) for k, v in dashboard_variable_queries().items()})
    assert len(dashboard_exprs()) >= 20

    _drive_traffic(server.address)
    _drive_http(server.http_url)
    # Until each expression has a finite sample: rates need two scrapes after the traffic, the
    # recorded series one rule evaluation.
    results: dict[str, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + DATA_TIMEOUT_S
    while True:
        results = {name: prometheus.query(expr) for name, expr in exprs.items()}
        missing = sorted(name for name, result in results.items() if not _finite(result))
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    report = "\n".join(f"{name}: {exprs[name]!r} -> {results[name]}" for name in missing)
    assert not missing, f"{len(missing)} of {len(exprs)} expressions return no data:\n{report}"

    # Rule evaluation itself is healthy, and the traffic shows where it should.
    for group in prometheus.api("rules")["groups"]:
        for rule in group["rules"]:
            assert rule["health"] == "ok", rule
    value = {
        name: float(results[name][0]["value"][1])
        for name in ("rule eduscore:cache_hits:ratio_rate5m", "Ready replicas [A]")
    }
    assert value["Ready replicas [A]"] == 1.0
    assert value["rule eduscore:cache_hits:ratio_rate5m"] > 0.0
    codes = {s["metric"]["grpc_code"]: float(s["value"][1]) for s in results["Errors by code [A]"]}
    assert codes["INVALID_ARGUMENT"] > 0.0, codes


def test_healthy_server_fires_no_alert(prometheus: Prometheus) -> None:
    """Nothing is wrong with the session's server: no alert may even be pending."""
    alerts = prometheus.api("alerts")["alerts"]
    assert alerts == [], alerts
