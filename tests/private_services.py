"""Private instances of Redis and RabbitMQ on ports of their own, for tests that restart, kill or count a
service: never the shared ones. Each has a throwaway directory, start(), kill() (a crash) and close()."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support import free_port


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"{what} exited {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        assert time.monotonic() < deadline, f"{what} did not listen on {port} in {timeout}s"
        time.sleep(0.1)


def _kill_group(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL, timeout: float = 30) -> None:
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout)


class PrivateRedis:
    """`redis-server` on 127.0.0.1:<port>. Not durable by default (a restart loses every key); durable: AOF with
    fsync always, so a restart keeps what it acknowledged."""

    def __init__(self, durable: bool = False) -> None:
        assert shutil.which("redis-server"), "redis-server is not installed"
        self.dir = Path(tempfile.mkdtemp(prefix="flashsale-redis-"))
        self.port = free_port()
        self.durable = durable
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_connect_timeout=1)

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = self.dir / "redis.log"
        persistence = ("--appendonly", "yes", "--appendfsync", "always") if self.durable else ("--appendonly", "no")
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", *persistence),
                *("--dir", str(self.dir), "--logfile", str(log)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_port(self.port, self.proc, 20, "redis-server", log)
        deadline = time.monotonic() + 20
        with contextlib.closing(self.client()) as client:
            while int(client.info("persistence")["loading"]) != 0:  # replaying its append-only file
                assert time.monotonic() < deadline, "redis-server did not finish loading"
                time.sleep(0.05)

    def kill(self) -> None:
        """A crash: SIGKILL."""
        assert self.proc is not None and self.proc.poll() is None, "not running"
        _kill_group(self.proc)

    def close(self) -> None:
        _kill_group(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRabbitMQ:
    """A RabbitMQ node of its own (name, ports, data directory), without plugins. stop() and start() again
    keep its durable queues and their messages, as a broker restart does."""

    def __init__(self) -> None:
        assert shutil.which("rabbitmq-server"), "rabbitmq-server is not installed"
        self.dir = Path(tempfile.mkdtemp(prefix="flashsale-rabbitmq-"))
        self.dir.chmod(0o777)  # run as root, the server script drops to the rabbitmq user
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"fs{self.port}@localhost"
        (self.dir / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "env.conf").write_text("")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "env.conf"),  # not the machine's (it names the shared node)
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _server_pids(self) -> list[int]:
        """The node's Erlang VM: the launcher script runs it in a session of its own (as the rabbitmq user), so
        signalling the script's process group leaves it running, on its port, with its queues."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")[0]
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:  # gone meanwhile, or not ours to read
                continue
            if command.endswith(b"beam.smp") and f"RABBITMQ_NODENAME={self.node}".encode() in environ:
                found.append(int(entry.name))
        return found

    def _signal_server(self, sig: int, timeout: float) -> None:
        """Signal the node's VM and wait until it is gone (its port closed, its files written)."""
        pids = self._server_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while self._server_pids():
            assert time.monotonic() < deadline, f"rabbitmq node {self.node} still running {timeout}s after {sig}"
            time.sleep(0.1)

    def start(self, timeout: float = 90) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        assert not self._server_pids(), f"rabbitmq node {self.node} is still running"
        log = self.dir / "server.out"
        with log.open("ab") as sink:
            self.proc = subprocess.Popen(
                ["rabbitmq-server"], env=self._env(), stdout=sink, stderr=sink, start_new_session=True
            )
        _wait_port(self.port, self.proc, timeout, "rabbitmq-server", log)

    def stop(self, timeout: float = 60) -> None:
        """A clean broker stop (SIGTERM): connections drop, durable queues and messages stay on disk."""
        assert self.proc is not None and self.proc.poll() is None, "not running"
        self._signal_server(signal.SIGTERM, timeout)
        _kill_group(self.proc, signal.SIGTERM, timeout)

    def close(self) -> None:
        with contextlib.suppress(AssertionError):
            self._signal_server(signal.SIGTERM, 30)
        self._signal_server(signal.SIGKILL, 10)
        with contextlib.suppress(subprocess.TimeoutExpired):
            _kill_group(self.proc, signal.SIGTERM, 30)
        _kill_group(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)
