"""A private Mosquitto on a free loopback port, for tests and benchmarks that restart or
configure their broker (persistence on, so sessions and queued QoS 1 messages survive), with an
optional TLS listener whose throwaway CA and certificates are made at test time."""

from __future__ import annotations

import contextlib
import getpass
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.ports import free_port

# The broker configuration EMsync ships (issue #14): tests that restart brokers run on it.
SHIPPED_CONF = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "emsync.conf"


@dataclass(frozen=True, slots=True)
class Pki:
    """PEM files of a throwaway CA, a server certificate for 127.0.0.1/localhost and a client
    certificate, all issued by that CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def make_pki(
    directory: Path,
    *,
    ca_name: str = "EMsync test CA",
    server_names: tuple[str, ...] = ("localhost", "127.0.0.1"),
) -> Pki:
    """A new CA and the certificates it signs; a second call gives an unrelated CA. The server
    certificate names `server_names` (IP addresses or DNS names) in its subjectAltName."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(ca_name))
        .issuer_name(_name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    def issue(
        common_name: str, usage: x509.ObjectIdentifier, san: list[x509.GeneralName]
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    def san(name: str) -> x509.GeneralName:
        try:
            return x509.IPAddress(ip_address(name))
        except ValueError:
            return x509.DNSName(name)

    server_cert, server_key = issue(
        server_names[0], ExtendedKeyUsageOID.SERVER_AUTH, [san(n) for n in server_names]
    )
    client_cert, client_key = issue("emsync-ingest", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    pki = Pki(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )
    pki.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    pki.client_cert.write_bytes(client_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.server_key, server_key)
    _write_key(pki.client_key, client_key)
    return pki


class Mosquitto:
    """With `tls`, the one listener speaks only TLS (server certificate and key from `tls`,
    clients verified against its CA when `require_certificate`)."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        extra: str = "",
        tls: Pki | None = None,
        require_certificate: bool = False,
        shipped: bool = False,
    ) -> None:
        if shutil.which("mosquitto") is None:
            raise FileNotFoundError("mosquitto is not installed")
        self.workdir = workdir
        self.port = port or free_port()
        self.conf = workdir / "mosquitto.conf"
        workdir.mkdir(parents=True, exist_ok=True)
        listener = f"listener {self.port} 127.0.0.1\n"
        if tls is not None:
            listener += (
                f"cafile {tls.ca}\n"
                f"certfile {tls.server_cert}\n"
                f"keyfile {tls.server_key}\n"
                f"require_certificate {'true' if require_certificate else 'false'}\n"
            )
        # Shipped: deploy/mosquitto/emsync.conf as it is, plus only what a test broker needs
        # (its listener, user and directory). Otherwise unlimited queues (a test harness).
        behaviour = (
            SHIPPED_CONF.read_text()
            if shipped
            else "persistence true\nautosave_interval 1\nmax_queued_messages 0\n"
            "max_inflight_messages 0\n"
        )
        self.conf.write_text(
            listener
            # Run as whoever started it: as root, mosquitto would switch to its own user and
            # could not write the persistence file into our directory.
            + f"user {getpass.getuser()}\n"
            "allow_anonymous true\n"
            f"persistence_location {workdir}/\n" + behaviour + f"{extra}"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.workdir / "mosquitto.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=log
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited: {(self.workdir / 'mosquitto.log').read_text()}"
                )
            time.sleep(0.05)
        raise TimeoutError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: mosquitto saves its persistence file
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def running_mosquitto(
    workdir: Path,
    *,
    extra: str = "",
    tls: Pki | None = None,
    require_certificate: bool = False,
    shipped: bool = False,
) -> Iterator[Mosquitto]:
    """A private broker for one test. When it cannot start: a failure under CI=true, else a skip
    (the suite's policy for every real service)."""
    from tests.conftest import _require_service  # pytest's policy; the benches never get here

    broker = Mosquitto(
        workdir, extra=extra, tls=tls, require_certificate=require_certificate, shipped=shipped
    )
    try:
        broker.start()
    except (FileNotFoundError, RuntimeError, TimeoutError) as exc:
        _require_service("mosquitto", exc)
    try:
        yield broker
    finally:
        broker.stop()
