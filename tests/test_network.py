"""The suite runs without network access: prove the guard in conftest.py bites."""

from __future__ import annotations

import socket
import threading

import pytest


def test_connect_to_another_host_is_blocked() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.1)
        with pytest.raises(RuntimeError, match="without network access"):
            sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routable
        with pytest.raises(RuntimeError, match="without network access"):
            sock.connect_ex(("192.0.2.1", 443))


def test_udp_datagrams_to_another_host_are_blocked() -> None:
    # dnspython, which email-validator uses for deliverability checks, sends UDP.
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(RuntimeError, match="without network access"),
    ):
        sock.sendto(b"\x00", ("192.0.2.1", 53))


def test_name_lookups_are_blocked() -> None:
    with pytest.raises(RuntimeError, match="without network access"):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(RuntimeError, match="without network access"):
        socket.create_connection(("example.com", 443), timeout=0.1)


def test_loopback_stays_usable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        accepted: list[bytes] = []

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                accepted.append(conn.recv(16))

        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection(("localhost", port), timeout=5) as client:
            client.sendall(b"ping")
        thread.join(timeout=5)
    assert accepted == [b"ping"]
