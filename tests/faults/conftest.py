"""Fixtures of the fault tests: a PRIVATE MariaDB server (its own data directory and port) that a test may
kill and start again, never the shared one on 3306. Each fault test builds its own world on top."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from tests.private_services import PrivateRabbitMQ
from tests.support import free_port


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or next(
            (str(p) for d in ("/usr/sbin", "/usr/local/sbin") if (p := Path(d) / name).exists()), None
        )
        if found:
            return found
    raise AssertionError(f"none of {names} is installed: the database fault tests need a MariaDB server")


class PrivateMariaDB:
    """`mariadbd` on 127.0.0.1:<port> with a throwaway data directory; crash it with kill(), start() again."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="flashsale-mariadb-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        install = subprocess.run(
            [
                _binary("mariadb-install-db", "mysql_install_db"),
                "--no-defaults",
                "--user=root",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert install.returncode == 0, f"mariadb-install-db failed:\n{install.stdout}\n{install.stderr}"

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = (self.dir / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [
                _binary("mariadbd", "mysqld"),
                "--no-defaults",
                "--user=root",
                f"--datadir={self.data}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.dir / 'mysqld.sock'}",
                f"--pid-file={self.dir / 'mysqld.pid'}",
                "--innodb-buffer-pool-size=64M",
                "--max-connections=500",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"mariadbd exited {self.proc.returncode}: {self.log()[-2000:]}"
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=1).close()
                return
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"mariadbd did not accept connections in {timeout}s") from None
                time.sleep(0.1)

    def kill(self) -> None:
        """A crash: SIGKILL, no shutdown."""
        assert self.proc is not None and self.proc.poll() is None, "not running"
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def freeze(self) -> None:
        """A hang: SIGSTOP. Connections stay open and nothing answers until thaw()."""
        assert self.proc is not None and self.proc.poll() is None, "not running"
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGCONT)

    def log(self) -> str:
        path = self.dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGCONT)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_mariadb() -> Iterator[PrivateMariaDB]:
    server = PrivateMariaDB()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def private_rabbitmq() -> Iterator[PrivateRabbitMQ]:
    """A RabbitMQ node of the test's own (tests/private_services.py), stopped and started at will."""
    broker = PrivateRabbitMQ()
    try:
        broker.start()
        yield broker
    finally:
        broker.close()
