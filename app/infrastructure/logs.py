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

# What must never reach a log line, and what it becomes instead. The patterns also run over a dumped JSON
# line, so none of them consumes a string's closing quote, and an escaped quote (\") counts as a quote.
_SECRET_NAMES = "password|passwd|secret|token|authorization"
_SECRET_KEY = re.compile(rf"(?i)(?:.*[^a-z])?(?:{_SECRET_NAMES})")
_KEYED = re.compile(
    rf"""(?ix)(?<![a-z])({_SECRET_NAMES})
    (\\?["']?\s*[=:]\s*)                                # the key's closing quote, if any, and = or :
    (?:(\\?["'])((?:(?!\3)(?:\\.|[^"\\]))*)\3     # a quoted value, to its closing quote
      |(?:\[redacted[^]]*]|[^\s,;&"\\}}\]])+)         # or a bare one (to a JSON object's end)"""
)


def _keyed(match: re.Match[str]) -> str:
    # A bare value after a quoted key (JSON's `"secret": 12345`) becomes a string, so JSON stays JSON.
    quote = match.group(3) or ('"' if match.group(2).startswith('"') else "")
    return f"{match.group(1)}{match.group(2)}{quote}[redacted]{quote}"


_SCRUB: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-token]"),
    # A URL's password runs to the last @ before the host: a password may hold an @ of its own.
    (re.compile(r"""(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s"\\]*):(?:\\.|[^\s"\\])*@"""), r"\1:[redacted]@"),
    (_KEYED, _keyed),
]
QUIET = ("aio_pika", "aiormq", "httpx", "httpcore")


def scrub(text: str) -> str:
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


def _keys_redacted(value: Any) -> Any:
    """A field's value with whatever sits under a secret's key (`{"password": [...]}`) replaced, at any depth."""
    if isinstance(value, dict):
        return {k: "[redacted]" if _SECRET_KEY.fullmatch(str(k)) else _keys_redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_keys_redacted(v) for v in value]
    return value


def _when(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _when(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key, value in _keys_redacted(_fields(record)).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # Scrubbed as text, so strings inside lists and dicts are scrubbed too.
        text = scrub(json.dumps(line, default=str))
        try:
            json.loads(text)
        except ValueError:  # a bare secret (`"secret": 12345`) became `[redacted]`: keep the line one object
            text = json.dumps({key: line[key] for key in ("time", "level", "logger", "pid")} | {"message": text})
        return text


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

    def emit(self, record: logging.LogRecord) -> None:
        # Imported at the first count, not at setup: logging is set up before `flashsale api` chooses the
        # metrics' multi-process mode, which must come before the metrics module is first imported.
        from app.infrastructure.metrics import LOG_MESSAGES

        LOG_MESSAGES.labels(record.levelname.lower(), record.name).inc()


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
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
