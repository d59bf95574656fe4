"""Process logging: one line per event on stderr, plain text or JSON (`FLASHSALE_LOG_FORMAT`), with tokens,
bearer credentials and passwords in URLs scrubbed from every line, and warnings and errors counted as a
metric (`flashsale_log_messages_total`).

Structured details travel as `extra={"fields": {...}}`: top-level keys in JSON, `key=value` pairs in text."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

# What must never reach a log line, and what it becomes instead.
_SCRUB = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-token]"),
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]*@"), r"\1:[redacted]@"),
    (re.compile(r"(?i)(?<![a-z])(password|passwd|secret|token|authorization)(\s*[=:]\s*)[^\s,;&]+"), r"\1\2[redacted]"),
]
_QUIET = ("aio_pika", "aiormq", "httpx", "httpcore")


def scrub(text: str) -> str:
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


def _when(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _when(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "pid": record.process,
        }
        for key, value in _fields(record).items():
            line.setdefault(key, scrub(value) if isinstance(value, str) else value)
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, default=lambda value: scrub(str(value)))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{_when(record)} {record.levelname} {record.name}: {record.getMessage()}"]
        parts += [f"{key}={value}" for key, value in _fields(record).items()]
        if record.exc_info:
            # A traceback stays on its event's line, so a log shipper never splits it into many events.
            parts.append("| " + self.formatException(record.exc_info).replace("\n", " | "))
        return scrub(" ".join(parts).replace("\n", "\\n"))


class _Out(logging.StreamHandler):
    """The process's log stream (its own class, so a second setup finds and replaces it)."""


class _Counter(logging.Handler):
    """Counts what reaches it (warnings and above) into the metrics."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        from app.infrastructure.metrics import LOG_MESSAGES  # here: after the CLI chose the metrics mode

        self._metric = LOG_MESSAGES

    def emit(self, record: logging.LogRecord) -> None:
        self._metric.labels(record.levelname.lower(), record.name).inc()


def setup_logging(log_format: str = "text", level: str = "INFO") -> None:
    """Send every logger's records to stderr in the chosen format; calling it again replaces what it set."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Out | _Counter)]:
        root.removeHandler(handler)
    out = _Out(sys.stderr)
    out.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(out)
    root.addHandler(_Counter())
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
