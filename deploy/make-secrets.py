"""Secrets of a compose deployment, generated once into a directory (deploy/secrets by default).

    python deploy/make-secrets.py init [--dir DIR] [--gateway-name NAME ...] [--mqtt-name NAME ...]
    python deploy/make-secrets.py device DEVICE_ID [--dir DIR]   # a monitor's MQTT client certificate

Nothing here has a working default: every password and key is random, made on the machine that
runs the deployment, and never committed (deploy/secrets/ is ignored by git). `init` only makes
what is missing, so it is safe to re-run; delete a file to make a new one.

The directory is 0700 (only root, or whoever runs compose, can reach the files); the files are
0644 because compose bind-mounts each secret into only the containers that need it, where the
non-root user of that image must read it. The CA's private key stays 0600 and is mounted nowhere:
it issues the MQTT broker's, the ingest's and each device's certificates.

Needs the `cryptography` package (`.venv/bin/python deploy/make-secrets.py …` after `make install`).
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import secrets
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_DIR = Path(__file__).resolve().parent / "secrets"
# compose.yaml's fixed loopback ports (host networking)
POSTGRES = "127.0.0.1:15432"
REDIS = "127.0.0.1:16379"
RABBITMQ = "127.0.0.1:15673"
CERT_DAYS = 825  # the longest validity browsers accept for a server certificate
DEVICE_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _write(path: Path, data: str | bytes, *, mode: int = 0o644) -> None:
    raw = data.encode() if isinstance(data, str) else data
    path.write_bytes(raw)
    path.chmod(mode)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _alt_names(names: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def _ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if not cert_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        name = _name(f"EMsync deployment CA {secrets.token_hex(4)}")
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        _write(key_path, _key_pem(key), mode=0o600)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def _issue(
    directory: Path,
    stem: str,
    *,
    common_name: str,
    server_names: list[str] | None = None,
    ca_dir: Path | None = None,
) -> None:
    """`stem`.pem and `stem`.key, issued by the deployment CA: a server certificate when
    `server_names` is given, a client certificate otherwise."""
    if (directory / f"{stem}.pem").exists():
        return
    ca_cert, ca_key = _ca(ca_dir or directory)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server_names else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if server_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_alt_names(server_names)), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    _write(directory / f"{stem}.key", _key_pem(key))
    _write(directory / f"{stem}.pem", cert.public_bytes(serialization.Encoding.PEM))


def _once(path: Path, make: Callable[[], str]) -> str:
    if not path.exists():
        _write(path, make())
    return path.read_text()


def init(directory: Path, *, gateway_names: list[str], mqtt_names: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    _once(directory / "secret_key", lambda: secrets.token_urlsafe(48))
    _once(
        directory / "master_keys.json",
        lambda: json.dumps({"1": base64.b64encode(secrets.token_bytes(32)).decode()}),
    )
    # The audit chain's HMAC key (production refuses to start without one).
    _once(directory / "audit_key", lambda: base64.b64encode(secrets.token_bytes(32)).decode())
    _once(directory / "admin_password", lambda: secrets.token_urlsafe(18))
    _once(directory / "grafana_admin_password", lambda: secrets.token_urlsafe(18))
    pg = _once(directory / "postgres_password", lambda: secrets.token_urlsafe(24))
    _once(
        directory / "database_url",
        lambda: f"postgresql+asyncpg://emsync:{pg}@{POSTGRES}/emsync",
    )
    redis = _once(directory / "redis_password", lambda: secrets.token_urlsafe(24))
    # Redis reads users from an ACL file: the default (password-less) user is switched off.
    _once(
        directory / "redis_users.acl",
        lambda: f"user default off\nuser emsync on >{redis} ~* &* +@all\n",
    )
    _once(directory / "redis_url", lambda: f"redis://emsync:{redis}@{REDIS}/0")
    # RabbitMQ (durable events): its only user is made from this file at the broker's first start.
    amqp = _once(directory / "rabbitmq_password", lambda: secrets.token_urlsafe(24))
    _once(
        directory / "rabbitmq.conf",
        lambda: f"listeners.tcp.default = {RABBITMQ}\ndefault_user = emsync\n"
        f"default_pass = {amqp}\nloopback_users = none\n",
    )
    _once(directory / "amqp_url", lambda: f"amqp://emsync:{amqp}@{RABBITMQ}/")
    _ca(directory)
    _issue(directory, "gateway", common_name=gateway_names[0], server_names=gateway_names)
    _issue(directory, "mqtt-server", common_name=mqtt_names[0], server_names=mqtt_names)
    # The ingest's client certificate: its CN is its MQTT username in the broker's ACL file.
    _issue(directory, "mqtt-ingest", common_name="emsync-ingest")
    # The broker container's own health check subscribes to $SYS with this one.
    _issue(directory, "mqtt-health", common_name="emsync-health")
    print(f"secrets in {directory}")


def device(directory: Path, device_id: str) -> None:
    """A monitor's client certificate: CN = its device id, which the broker's ACL lets publish
    only on emsync/v1/devices/<device id>/+."""
    if not device_id or len(device_id) > 64 or set(device_id) - DEVICE_ID_CHARS:
        sys.exit("device id: 1-64 of A-Z a-z 0-9 _ - (DESIGN.md 3.1)")
    if not (directory / "ca.key").exists():
        sys.exit(f"no CA in {directory}: run `init` first")
    (directory / "devices").mkdir(exist_ok=True)
    _issue(directory / "devices", device_id, common_name=device_id, ca_dir=directory)
    print(directory / "devices" / f"{device_id}.pem")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    sub = parser.add_subparsers(dest="command", required=True)
    p_init = sub.add_parser("init", help="make every missing secret")
    p_init.add_argument(
        "--gateway-name",
        action="append",
        help="DNS name or address of the HTTPS gateway (repeat; default localhost, 127.0.0.1)",
    )
    p_init.add_argument(
        "--mqtt-name",
        action="append",
        help="DNS name or address devices use for the broker (repeat; as above)",
    )
    p_dev = sub.add_parser("device", help="issue a device's MQTT client certificate")
    p_dev.add_argument("device_id")
    args = parser.parse_args()
    if args.command == "init":
        init(
            args.dir,
            gateway_names=args.gateway_name or ["localhost", "127.0.0.1"],
            mqtt_names=args.mqtt_name or ["localhost", "127.0.0.1"],
        )
    else:
        device(args.dir, args.device_id)


if __name__ == "__main__":
    main()
