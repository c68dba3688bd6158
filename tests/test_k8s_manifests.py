"""deploy/k8s validated offline: Kubernetes JSON schemas (strict) plus cross-references."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from eduscore.serving.app import LIVENESS

kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed")

K8S = Path(__file__).resolve().parents[1] / "deploy" / "k8s"
#: The oldest version the manifests need (preStop `sleep`), and the newest schema shipped.
VERSIONS = ("1.30.0", kv.utils.latest_version())


def load() -> dict[str, dict[str, Any]]:
    """Resources by `kind/name`, from every file the kustomization lists."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    out = {}
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            out[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return out


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize("version", VERSIONS)
def test_manifests_match_the_kubernetes_schema(version: str) -> None:
    for doc in load().values():
        kv.validate(doc, version, strict=True)


def test_schema_check_catches_a_misspelt_field() -> None:
    deployment = copy.deepcopy(load()["Deployment/eduscore"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kv.ValidationError, match="readinesProbe"):
        kv.validate(deployment, VERSIONS[0], strict=True)


def test_services_probes_and_drain_fit_the_deployment() -> None:
    res = load()
    deployment = res["Deployment/eduscore"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    container = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert ports == {
        "grpc": int(env["EDUSCORE_PORT"]),
        "metrics": int(env["EDUSCORE_METRICS_PORT"]),
    }
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()

    grpc_svc, metrics_svc = res["Service/eduscore-grpc"], res["Service/eduscore-metrics"]
    assert grpc_svc["spec"]["clusterIP"] == "None"  # headless: client-side round-robin
    assert metrics_svc["spec"].get("clusterIP") != "None"
    for svc in (grpc_svc, metrics_svc):
        assert svc["spec"]["selector"].items() <= labels.items()
        assert all(p["targetPort"] in ports for p in svc["spec"]["ports"])

    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == ports["grpc"], probe
    live = container["livenessProbe"]
    # Liveness asks the service only a hung or dead model fails (the server's LIVENESS);
    # startup and readiness the overall one, NOT_SERVING while loading and draining too.
    assert live["grpc"]["service"] == LIVENESS
    assert "service" not in container["readinessProbe"]["grpc"]
    assert float(env["EDUSCORE_STALL_TIMEOUT_S"]) > 0
    drain_s = float(env["EDUSCORE_GRACE_PERIOD_S"])
    pre_stop_s = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["spec"]["terminationGracePeriodSeconds"] > pre_stop_s + drain_s
    assert live["periodSeconds"] * live["failureThreshold"] > drain_s  # drain is not a restart

    resources = container["resources"]
    assert resources["requests"]["memory"].endswith("Mi")
    assert int(resources["requests"]["memory"][:-2]) >= 1024  # measured RSS ~1 GiB
    assert env["EDUSCORE_TORCH_THREADS"] == resources["limits"]["cpu"]
    # A full queue costs at most ~5x its code bytes (the message plus a str of up to 4 bytes a
    # character); with ~1 GiB measured RSS that must still fit the memory limit.
    limit = resources["limits"]["memory"]
    assert limit.endswith("Gi")
    assert 5 * int(env["EDUSCORE_MAX_QUEUE_BYTES"]) <= (int(limit[:-2]) - 1) * 2**30

    hpa = res["HorizontalPodAutoscaler/eduscore"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "eduscore")
    assert hpa["spec"]["minReplicas"] >= 2 and resources["requests"]["cpu"]  # HPA needs requests
    pdb = res["PodDisruptionBudget/eduscore"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
