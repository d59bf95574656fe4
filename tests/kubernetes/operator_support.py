"""Helpers for the operator tests: `flashsale operator` as a process (start, stop, SIGKILL, restart), a watch
that records when each phase of a FlashSale first appeared, FlashSale manifests, and bounded waits.

Everything runs for real: the operator process against the test API server, the world's API and workers
against the real Redis, RabbitMQ and MariaDB."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from tests.kubernetes.conftest import Kube
from tests.pipeline.harness import LOG_DIR, wait_until
from tests.support import World, free_port, iso

T = TypeVar("T")


def flashsale_manifest(name: str, *, starts_in: float, lasts: float, **spec: Any) -> dict[str, Any]:
    """A FlashSale of a new commodity opening `starts_in` seconds from now for `lasts` seconds."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "commodity": {"name": f"Lamp {name}", "description": "A test commodity.", "priceCents": 2500},
        "priceCents": 1500,
        "stock": 6,
        "startsAt": iso(now + timedelta(seconds=starts_in)),
        "endsAt": iso(now + timedelta(seconds=starts_in + lasts)),
        "perUserLimit": 2,
        "paymentTimeoutSeconds": 60,
        "preheatLeadSeconds": 3,
        "consumers": {"minReplicas": 1, "maxReplicas": 4, "messagesPerReplica": 50},
    }
    body.update(spec)
    return {"apiVersion": "flashsale.io/v1alpha1", "kind": "FlashSale", "metadata": {"name": name}, "spec": body}


def at(text: str) -> float:
    """An RFC 3339 time as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class OperatorProcess:
    """`flashsale operator --namespace NS` for a world, with its log in a file."""

    def __init__(
        self, world: World, kube: Kube, namespace: str, *, kubeconfig: str | None = None, webhook: str | None = None
    ) -> None:
        self.world = world
        self.kube = kube
        self.kubeconfig = kubeconfig or kube.kubeconfig
        self.namespace = namespace
        self.webhook = webhook
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = LOG_DIR / f"{world.namespace}-operator-{namespace}.log"
        self.starts = 0

    @property
    def env(self) -> dict[str, str]:
        env = self.world.env | {
            "KUBECONFIG": self.kubeconfig,
            "FLASHSALE_OPERATOR_METRICS_PORT": str(self.metrics_port),
            "FLASHSALE_OPERATOR_HEALTH_PORT": str(self.health_port),
            "FLASHSALE_SCALE_COOLDOWN_SECONDS": "5",
            # The finalizer waits for open orders at most a sale's payment timeout and this.
            "FLASHSALE_OPERATOR_DRAIN_SLACK_SECONDS": "20",
        }
        if self.webhook:
            env |= {
                "FLASHSALE_OPERATOR_WEBHOOK": self.webhook,
                "FLASHSALE_OPERATOR_WEBHOOK_NAME": f"{self.world.namespace}.test.flashsale.io",
            }
        return env

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "the operator is running"
        self.starts += 1
        with self.log.open("ab") as sink:
            sink.write(f"--- start {self.starts} at {time.time():.3f}\n".encode())
            sink.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "operator", "--namespace", self.namespace],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
                start_new_session=True,
            )
        self.world.procs.append(self.proc)
        wait_until(self._healthy, 60, "the operator's liveness endpoint", interval=0.2)

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the operator exited with {self.proc.returncode}:\n{self.read_log()[-4000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        return self.world.stop(self.proc, sig, timeout=30)

    def kill(self) -> int:
        """SIGKILL: no cleanup at all, as a crash or an OOM kill."""
        return self.stop(signal.SIGKILL)

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def read_log(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class PhaseWatch:
    """Watches one FlashSale (`kubectl get --watch`, one long-lived process) and records the moment each phase
    first appeared in a row of events, and the latest object."""

    kube: Kube
    namespace: str
    name: str
    phases: list[tuple[float, str]] = field(default_factory=list)
    latest: dict[str, Any] | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _proc: subprocess.Popen[str] | None = None
    _thread: threading.Thread | None = None

    def start(self) -> PhaseWatch:
        self._proc = subprocess.Popen(
            [
                self.kube.kubectl_bin,
                "get",
                "flashsales",
                "-n",
                self.namespace,
                "--field-selector",
                f"metadata.name={self.name}",
                "--watch",
                "-o",
                "json",
            ],
            env=self.kube.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        decoder = json.JSONDecoder()
        buffer = ""
        for line in self._proc.stdout:
            buffer += line
            while True:
                text = buffer.lstrip()
                if not text:
                    buffer = ""
                    break
                try:
                    obj, end = decoder.raw_decode(text)
                except json.JSONDecodeError:
                    break  # not a whole document yet
                buffer = text[end:]
                self._seen(obj)

    def _seen(self, obj: dict[str, Any]) -> None:
        moment = time.time()
        phase = (obj.get("status") or {}).get("phase")
        with self._changed:
            if obj.get("kind") == "FlashSale":
                self.latest = obj
            if phase and (not self.phases or self.phases[-1][1] != phase):
                self.phases.append((moment, phase))
            self._changed.notify_all()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)

    def wait(self, check: Callable[[dict[str, Any]], T], timeout: float, what: str) -> T:
        """Until `check(latest object)` is truthy; fail after `timeout` seconds naming `what`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = check(self.latest) if self.latest is not None else None
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    status = (self.latest or {}).get("status")
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}; status: {status}")
                self._changed.wait(min(left, 0.5))

    def wait_phase(self, phase: str, timeout: float) -> float:
        """Until the phase is current; the moment it first appeared (in its current run)."""
        self.wait(lambda o: (o.get("status") or {}).get("phase") == phase, timeout, f"phase {phase}")
        with self._changed:
            return next(moment for moment, seen in reversed(self.phases) if seen == phase)

    def status(self) -> dict[str, Any]:
        with self._changed:
            return dict((self.latest or {}).get("status") or {})

    def condition(self, kind: str) -> dict[str, Any] | None:
        return next((c for c in self.status().get("conditions", []) if c["type"] == kind), None)

    def order(self) -> list[str]:
        with self._changed:
            return [phase for _, phase in self.phases]


@contextlib.contextmanager
def watching(kube: Kube, namespace: str, name: str) -> Iterator[PhaseWatch]:
    watch = PhaseWatch(kube, namespace, name).start()
    try:
        yield watch
    finally:
        watch.stop()


def apply(kube: Kube, namespace: str, manifest: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return kube.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(manifest))


def patch_spec(kube: Kube, namespace: str, name: str, **spec: Any) -> None:
    kube.kubectl("-n", namespace, "patch", "flashsale", name, "--type", "merge", "-p", json.dumps({"spec": spec}))


def sale_keys(world: World, sale_id: int | str) -> list[str]:
    """The sale's Redis keys that exist now."""
    import redis

    r = redis.Redis.from_url(world.settings.redis_url)
    try:
        return sorted(k.decode() for k in r.scan_iter(match=f"{world.namespace}:{{sale:{sale_id}}}:*", count=1000))
    finally:
        r.close()


def consumer_deployment(kube: Kube, namespace: str, name: str = "flashsale-orders") -> None:
    """A stand-in for the order consumers' Deployment (its pods stay Pending here: no kubelet)."""
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "orders", "image": "localhost/flashsale:test"}]},
            },
        },
    }
    kube.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(manifest))


def late(seen: float, due: float) -> float:
    """How many seconds after its time a phase appeared (negative: before it, which must never happen)."""
    return round(seen - due, 3)
