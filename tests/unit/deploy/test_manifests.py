"""The deployment files agree with each other and with the code: every metric an alert or a
dashboard panel reads exists, every secret a service mounts is one make-secrets.py makes, each
ingest replica owns one partition, and the broker configurations differ only where they must.
(Schema validation of the same files is `make deploy-validate`.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml

from emsync.bootstrap import create_app
from emsync.telemetry.broker_watch import DROPPED_TOPIC, VERSION_TOPIC
from tests.conftest import make_settings
from tests.shared_data import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
_METRIC = re.compile(r"\b(emsync_[a-z0-9_]+)")


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _exposed_metric_names(tmp_path: Path) -> set[str]:
    # With Redis configured the fan-out's metrics are registered too (nothing connects here).
    settings = make_settings("sqlite+aiosqlite://", tmp_path, redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings)
    # Family names (a labelled metric has no sample before its first use), with the suffixes
    # its type exposes.
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    return {
        family.name + suffix
        for family in app.state.runtime.metrics.registry.collect()
        for suffix in suffixes.get(family.type, ("",))
    }


def test_every_metric_in_alerts_and_dashboards_is_exposed(tmp_path: Path) -> None:
    exposed = _exposed_metric_names(tmp_path)
    used: set[str] = set()
    for group in _load(DEPLOY / "prometheus/rules/emsync.yml")["groups"]:
        for rule in group["rules"]:
            used |= set(_METRIC.findall(rule["expr"]))
    dashboard = json.loads((DEPLOY / "grafana/dashboards/emsync-overview.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(_METRIC.findall(target["expr"]))
    assert used, "no metric found: the pattern or the files changed"
    assert sorted(used - exposed) == []


def test_alerts_cover_what_the_operators_must_know() -> None:
    names = {
        rule["alert"]
        for group in _load(DEPLOY / "prometheus/rules/emsync.yml")["groups"]
        for rule in group["rules"]
    }
    assert {
        "EmsyncIngestLag",
        "EmsyncBrokerDisconnected",
        "EmsyncDeadLetters",
        "EmsyncCriticalAlertUnacknowledged",
    } <= names


def test_prometheus_scrapes_every_emsync_process_of_compose() -> None:
    compose = _load(DEPLOY / "compose.yaml")
    ports = {
        service["environment"]["EMSYNC_PORT"]
        for service in compose["services"].values()
        if "EMSYNC_PORT" in service.get("environment", {})
    }
    scraped = {
        target.rsplit(":", 1)[1]
        for job in _load(DEPLOY / "prometheus/prometheus.yml")["scrape_configs"]
        if job["job_name"].startswith("emsync-")
        for config in job["static_configs"]
        for target in config["targets"]
    }
    assert ports == scraped


def test_every_compose_secret_is_made_by_make_secrets(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(DEPLOY / "make-secrets.py"), "--dir", str(tmp_path / "s"), "init"],
        check=True,
        capture_output=True,
    )
    compose = _load(DEPLOY / "compose.yaml")
    defined = compose["secrets"]
    for name, service in compose["services"].items():
        for secret in service.get("secrets", []):
            source = secret["source"] if isinstance(secret, dict) else secret  # long syntax
            assert source in defined, f"{name} mounts undefined secret {source}"
    made = {p.name for p in (tmp_path / "s").iterdir()}
    files = {
        Path(s["file"].replace("${EMSYNC_SECRETS:-./secrets}/", "")).name for s in defined.values()
    }
    assert sorted(files - made) == []
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "s" / "ca.key").stat().st_mode & 0o777 == 0o600
    # Nothing guessable: every password differs and is long.
    names = ("admin_password", "postgres_password", "rabbitmq_password")
    passwords = [(tmp_path / "s" / n).read_text() for n in names]
    assert len(set(passwords)) == 3
    assert all(len(p) >= 24 for p in passwords)


def test_broker_configurations_differ_only_where_they_must() -> None:
    def settings(path: Path) -> list[str]:
        return [
            line
            for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]

    compose = settings(DEPLOY / "mosquitto/mosquitto.conf")
    loopback = settings(DEPLOY / "local/mosquitto-loopback.conf")
    k8s = settings(DEPLOY / "k8s/base/mosquitto.conf")
    assert [x for x in loopback if x not in compose] == ["listener 8883 127.0.0.1"]
    assert len(k8s) == len(compose)
    assert [x for x in k8s if x not in compose] == [
        "cafile /run/secrets/mosquitto/ca.pem",
        "certfile /run/secrets/mosquitto/tls.crt",
        "keyfile /run/secrets/mosquitto/tls.key",
    ]
    assert (DEPLOY / "mosquitto/acl").read_text() == (DEPLOY / "k8s/base/acl").read_text()


def test_the_broker_acl_lets_the_ingest_watch_the_broker() -> None:
    """The ingest's broker watch subscribes to $SYS topics with the ingest's certificate: without
    a grant the broker silently sends nothing, and drops of readings raise no alert."""
    granted: dict[str, list[str]] = {}
    user = ""
    for line in (DEPLOY / "mosquitto/acl").read_text().splitlines():
        words = line.split()
        if words[:1] == ["user"]:
            user = words[1]
        elif words[:2] == ["topic", "read"] or words[:2] == ["topic", "readwrite"]:
            granted.setdefault(user, []).append(words[2])
    for topic in (VERSION_TOPIC, DROPPED_TOPIC):
        assert any(mqtt.topic_matches_sub(acl, topic) for acl in granted["emsync-ingest"]), topic


@pytest.mark.parametrize("overlay", ["base", "overlays/dev", "overlays/prod"])
def test_each_ingest_replica_owns_one_partition(overlay: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (kustomize) is not installed; make deploy-validate says so")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "k8s" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    config = next(
        d for d in docs if d["kind"] == "ConfigMap" and "emsync-config" in d["metadata"]["name"]
    )
    ingest = next(
        d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "emsync-ingest"
    )
    assert int(config["data"]["EMSYNC_MQTT__PARTITION_COUNT"]) == ingest["spec"]["replicas"]
    # Pages' acknowledge links point where the ingress serves the dashboard.
    ingress = next(d for d in docs if d["kind"] == "Ingress")
    host = ingress["spec"]["rules"][0]["host"]
    assert config["data"]["EMSYNC_NOTIFICATIONS__PUBLIC_URL"] == f"https://{host}"
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            pod = doc["spec"]["template"]["spec"]
            for container in pod["containers"]:
                security = container["securityContext"]
                assert security["readOnlyRootFilesystem"] is True
                assert security["allowPrivilegeEscalation"] is False
            assert pod["securityContext"]["runAsNonRoot"] is True


def test_compose_requires_the_public_url_production_requires() -> None:
    """Compose refuses to start without EMSYNC_PUBLIC_URL rather than start api processes that
    production's settings check refuses (`${VAR:?…}`: an unset variable is an error)."""
    env = _load(DEPLOY / "compose.yaml")["x-emsync-role"]["environment"]
    assert env["EMSYNC_ENV"] == "production"
    assert env["EMSYNC_NOTIFICATIONS__PUBLIC_URL"].startswith("${EMSYNC_PUBLIC_URL:?")
