"""Test configuration shared by tests/, the docs and README.md.

- Hypothesis profiles: ``ci`` (bounded, used by ``make test``), ``dev`` (the
  default) and ``thorough``; pick one with ``HYPOTHESIS_PROFILE``.
- Every ```python block of README.md and docs/*.md runs as a test (Sybil), in
  order, sharing one namespace per file, inside a fresh temporary directory.
- The network is off for the whole suite: crmcore promises never to touch it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "thorough", max_examples=2_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def _enter_tmpdir(namespace: dict[str, Any]) -> None:
    namespace["__crmcore_cwd__"] = os.getcwd()
    namespace["__crmcore_tmp__"] = tempfile.mkdtemp(prefix="crmcore-docs-")
    os.chdir(namespace["__crmcore_tmp__"])


def _leave_tmpdir(namespace: dict[str, Any]) -> None:
    os.chdir(namespace["__crmcore_cwd__"])
    shutil.rmtree(namespace["__crmcore_tmp__"], ignore_errors=True)


pytest_collect_file = Sybil(
    parsers=[PythonCodeBlockParser()],
    patterns=["*.md"],
    setup=_enter_tmpdir,
    teardown=_leave_tmpdir,
).pytest()


class NetworkBlocked(RuntimeError):
    """Raised when code under test tries to reach another host."""


def _is_local(address: object) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX paths
        return True
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host in {"localhost", "::1"} or host.startswith("127.")
    return False


_LOCAL_HOSTS = frozenset({"localhost", "::1", "", "0.0.0.0", "::"})


def _is_local_host(host: object) -> bool:
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    return name.lower() in _LOCAL_HOSTS or name.startswith("127.")


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    """Fail any connection that leaves this machine (loopback and Unix sockets stay usable).

    Covers TCP connects, UDP datagrams (DNS queries from dnspython are sent with
    ``sendto``) and name resolution, which would reach a resolver before any
    connect.
    """
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not _is_local(address):
            raise NetworkBlocked("the test suite runs without network access")
        original_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_local(address):
            raise NetworkBlocked("the test suite runs without network access")
        return original_connect_ex(self, address)

    def guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
        if not _is_local(args[-1]):
            raise NetworkBlocked("the test suite runs without network access")
        return original_sendto(self, data, *args)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local_host(host):
            raise NetworkBlocked("the test suite runs without network access (name lookup)")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
    socket.socket.sendto = guarded_sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = guarded_getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
        socket.socket.sendto = original_sendto  # type: ignore[method-assign]
        socket.getaddrinfo = original_getaddrinfo
