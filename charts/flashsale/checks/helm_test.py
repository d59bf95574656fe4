"""`helm test` of a flashsale release, run inside the release's image: it buys nothing. It checks that the API
answers /readyz with 200, that the Kubernetes API serves the FlashSale resource (its CRD is applied), and, when
asked, that Redis runs with the persistence the values state (AOF, fsync on every write). Standard library only,
so it needs nothing beyond the image's Python. One line per check; exit 1 if any failed."""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import urllib.request
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TIMEOUT = 10.0


def check_ready(api_url: str) -> str | None:
    """None when GET /readyz answers 200 with status ready, else what went wrong."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/readyz", timeout=TIMEOUT) as reply:
            body = json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return f"{api_url}/readyz answered {exc.code}: {exc.read()[:300]!r}"
    except (OSError, ValueError) as exc:
        return f"{api_url}/readyz unreachable: {exc}"
    return None if body.get("status") == "ready" else f"/readyz says {body}"


def check_crd(kube_url: str, token: str, ca_file: str | None) -> str | None:
    """None when the API server's discovery lists `flashsales` in flashsale.io/v1alpha1 (any token may ask)."""
    context = ssl.create_default_context(cafile=ca_file)
    request = urllib.request.Request(
        f"{kube_url.rstrip('/')}/apis/flashsale.io/v1alpha1", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as reply:
            body = json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return "the FlashSale CRD is not installed (kubectl apply -f k8s/crds/ first)"
        return f"Kubernetes API discovery answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"Kubernetes API unreachable: {exc}"
    names = {resource.get("name") for resource in body.get("resources", [])}
    return None if "flashsales" in names else f"flashsale.io/v1alpha1 serves {sorted(names)}, not flashsales"


def _command(*words: str) -> bytes:
    return b"".join([f"*{len(words)}\r\n".encode()] + [f"${len(w.encode())}\r\n{w}\r\n".encode() for w in words])


def _reply(reader: BinaryIO) -> object:
    """One RESP2 reply: enough of the protocol for AUTH and CONFIG GET."""
    line = reader.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:].decode()
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError(rest)
    if kind == b":":
        return int(rest)
    if kind == b"$":
        return None if rest == "-1" else reader.read(int(rest) + 2)[:-2].decode()
    if kind == b"*":
        return [_reply(reader) for _ in range(int(rest))]
    raise RuntimeError(f"unexpected Redis reply {line[:40]!r}")


def _redis_config(redis_url: str, names: tuple[str, ...]) -> dict[str, object]:
    parts = urlsplit(redis_url)
    raw = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=TIMEOUT)
    tls = parts.scheme == "rediss"
    with ssl.create_default_context().wrap_socket(raw, server_hostname=parts.hostname) if tls else raw as stream:
        reader = stream.makefile("rb")
        if parts.password is not None:
            user = (unquote(parts.username),) if parts.username else ()
            stream.sendall(_command("AUTH", *user, unquote(parts.password)))
            _reply(reader)
        found: dict[str, object] = {}
        for name in names:
            stream.sendall(_command("CONFIG", "GET", name))
            pair = _reply(reader)
            found[name] = pair[1] if isinstance(pair, list) and len(pair) == 2 else None
        return found


def check_redis(redis_url: str, wanted: dict[str, str]) -> str | None:
    """None when Redis's CONFIG has the stated values (appendonly, appendfsync)."""
    try:
        found = _redis_config(redis_url, tuple(wanted))
    except (OSError, RuntimeError) as exc:
        return f"Redis persistence unknown ({exc}); where CONFIG is disabled, set redisPersistence.verify=false"
    wrong = [
        f"{name} is {found[name]!r}, the values state {want!r}" for name, want in wanted.items() if found[name] != want
    ]
    return "Redis: " + "; ".join(wrong) if wrong else None


def main() -> int:
    env = os.environ
    token_file = Path(env.get("HELM_TEST_TOKEN_FILE", SERVICE_ACCOUNT / "token"))
    ca_file = env.get("HELM_TEST_CA_FILE", str(SERVICE_ACCOUNT / "ca.crt"))
    kube_url = env.get("HELM_TEST_KUBE_URL") or (
        f"https://{env['KUBERNETES_SERVICE_HOST']}:{env.get('KUBERNETES_SERVICE_PORT', '443')}"
    )
    checks = {
        "readyz": check_ready(env["HELM_TEST_API_URL"]),
        "crd": check_crd(kube_url, token_file.read_text().strip(), ca_file),
    }
    if env.get("FLASHSALE_REDIS_URL"):
        wanted = {"appendonly": env["HELM_TEST_APPENDONLY"], "appendfsync": env["HELM_TEST_APPENDFSYNC"]}
        checks["redis persistence"] = check_redis(env["FLASHSALE_REDIS_URL"], wanted)
    for name, problem in checks.items():
        print(f"{'FAIL' if problem else 'ok  '} {name}" + (f": {problem}" if problem else ""))
    return 1 if any(checks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
