"""README.md says what the code and the stamped artifacts say: its figures are generated
(`make docs`), its metrics list is the registry's, its language list is what can be detected."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import Metric

from bench import report
from eduscore import metrics
from eduscore.scoring.features import language_id
from eduscore.scoring.features.formats import CONFIG_FORMATS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: Series a family exposes, by type; what a query may name.
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _section(title: str) -> str:
    text = README.read_text()
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _families() -> list[Metric]:
    return [m for m in metrics.REGISTRY.collect() if not m.name.startswith(("process_", "python_"))]


def test_readme_figures_are_what_the_artifacts_give() -> None:
    """Every generated block (bench, soak, tiers, thresholds, model) matches models/current and
    bench/results; after a retrain or a bench run, `make docs` rewrites them."""
    text = README.read_text()
    for name in report.blocks():
        assert f"<!-- {name}:begin -->" in text and f"<!-- {name}:end -->" in text, name
    stale = [
        name
        for name, body in report.blocks().items()
        if f"<!-- {name}:begin -->\n{body}\n<!-- {name}:end -->" not in text
    ]
    assert not stale, f"README blocks {stale} differ from the artifacts: run `make docs`"


def test_the_threshold_table_reads_the_report() -> None:
    """The table's precision at 3.0 is report.json's, so a changed model changes the README."""
    cv = json.loads((ROOT / "models" / "current" / "report.json").read_text())
    at_3 = next(r for r in cv["thresholds"] if r["threshold"] == 3.0)
    table = report.blocks()["thresholds"]
    assert "| precision | " in table and f"{at_3['precision_keep']:.2f}" in table.split("\n")[2]


def test_every_registered_metric_is_in_the_metrics_list() -> None:
    listed = _section("Metrics")
    names = {m.name + ("_total" if m.type == "counter" else "") for m in _families()}
    missing = sorted(n for n in names if f"`{n}" not in listed)
    assert not missing, f"registered but not in README's Metrics: {missing}"


def test_every_metric_deploy_uses_exists() -> None:
    series = {m.name + suffix for m in _families() for suffix in _SUFFIXES.get(m.type, ("",))}
    series |= {"process_resident_memory_bytes", "process_cpu_seconds_total"}
    used: set[str] = set()  # names of series; recording rules (`eduscore:...`) are not
    for path in ("deploy/prometheus/rules.yml", "deploy/grafana/eduscore.json"):
        used |= set(
            re.findall(
                r"(?<![:\w])(?:eduscore|grpc_server|http|process)_\w+", (ROOT / path).read_text()
            )
        )
    assert len(used) > 10, used
    assert not used - series, f"deploy/ uses metrics the service does not register: {used - series}"


def test_the_languages_listed_are_the_ones_detected() -> None:
    """What `ScoreResult.language` can say: the detector's classes and the rule-based formats."""
    found = re.search(r"`language` \(as detected: (.*?)\.\.\.\)", README.read_text(), re.S)
    assert found, "the README's list of detected languages moved"
    listed = set(re.findall(r"`(\w+)`", found[1]))
    detector = language_id.shipped()
    assert detector is not None
    detectable = set(detector.classes) | CONFIG_FORMATS | {"text"}
    assert listed and listed <= detectable, f"listed but never detected: {listed - detectable}"
