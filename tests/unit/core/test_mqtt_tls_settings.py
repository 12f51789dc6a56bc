"""TLS settings that would be silently unused (a certificate without a CA, a CA without a broker
host) are refused at load."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from emsync.core.settings import MqttSettings


def test_client_certificate_without_a_ca_is_refused() -> None:
    with pytest.raises(ValidationError, match="TLS_CERT needs EMSYNC_MQTT__TLS_CA"):
        MqttSettings(host="mqtt", tls_cert=Path("client.pem"), tls_key=Path("client.key"))


def test_key_without_a_certificate_is_refused() -> None:
    with pytest.raises(ValidationError, match="TLS_KEY needs EMSYNC_MQTT__TLS_CERT"):
        MqttSettings(host="mqtt", tls_ca=Path("ca.pem"), tls_key=Path("client.key"))


def test_ca_alone_and_a_full_client_certificate_are_accepted() -> None:
    assert MqttSettings(host="mqtt", tls_ca=Path("ca.pem")).tls_cert is None
    full = MqttSettings(
        host="mqtt", tls_ca=Path("ca.pem"), tls_cert=Path("c.pem"), tls_key=Path("c.key")
    )
    assert full.tls_key == Path("c.key")
    combined = MqttSettings(host="mqtt", tls_ca=Path("ca.pem"), tls_cert=Path("both.pem"))
    assert combined.tls_key is None  # certificate and key in one PEM file


def test_tls_without_a_broker_host_is_refused() -> None:
    # No host means the embedded broker, which speaks no TLS: dropping TLS quietly is worse.
    with pytest.raises(ValidationError, match="TLS_CA needs EMSYNC_MQTT__HOST"):
        MqttSettings(tls_ca=Path("ca.pem"))
