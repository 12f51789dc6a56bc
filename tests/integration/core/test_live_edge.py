"""Issue #14 item 5, against a real `emsync serve`: X-Forwarded-For is believed only from
configured proxies, so rotating it from loopback no longer escapes the per-address login limit;
and an anonymous oversized body is refused without the server growing by its size."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.live_server import HTTP_TIMEOUT_S, live_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "EMSYNC_AUTH__LOGIN_ATTEMPTS_PER_IP": "3",
        "EMSYNC_AUTH__LOGIN_ATTEMPTS_PER_ACCOUNT": "50",
    }
    with live_server(tmp_path_factory.mktemp("edge"), extra_env=env, timeout=180) as base:
        yield base


def test_a_rotated_forwarded_for_from_loopback_does_not_reset_the_address_limit(
    server: str,
) -> None:
    statuses = []
    with httpx.Client(base_url=server, timeout=HTTP_TIMEOUT_S) as client:
        for n in range(5):
            response = client.post(
                "/api/auth/token",
                data={"username": f"nobody{n}", "password": "wrong-password-here"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            )
            statuses.append(response.status_code)
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]


def test_an_anonymous_100_mb_body_is_refused_unread(server: str) -> None:
    """The headers alone decide: the server answers before a byte of the body is sent."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST /api/incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n"
        )
        reply = conn.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST /api/incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 524288\r\n\r\n"
        )
        reply = conn.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 401")


def test_websocket_pushes_are_not_compressed_by_default(server: str) -> None:
    """A client offering permessage-deflate (browsers and `websockets` do) gets plain frames:
    compressing each push cost the event loop's CPU (`http.ws_per_message_deflate`)."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=HTTP_TIMEOUT_S) as conn:
        conn.sendall(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: emsync.v1\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = conn.recv(4096)
            assert chunk, f"closed before the handshake's end: {reply!r}"
            reply += chunk
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    assert head.startswith("http/1.1 101")
    assert "sec-websocket-protocol: emsync.v1" in head
    assert "sec-websocket-extensions" not in head
