"""Logging set-up shared by the console and the Jumpoint: plain or JSON lines with session context.

Context travels as ``logging.LoggerAdapter`` extras (``session_id``, ``user``, ``participant``,
``jumpoint``, ``jumpoint_id``, ``target``); the formatters append whichever are present. Context that holds for
the whole process (the Jumpoint's own id and name) is set once on the :class:`ProcessContext` that
:func:`setup_logging` returns, and added to every record that does not carry its own.

Secrets never reach a log because they are :class:`~jumpoint.core.secret.Secret` objects, which format as
``***``; as a second line of defence, anything shaped like one of our tokens (``ojt_``, ``ojj_``, ``ojr_`` and
a long tail) is cut to its prefix in every line written.

Under systemd with standard output connected to journald (``JOURNAL_STREAM`` names the stream), each line starts
with its syslog priority (``<3>`` for errors), so ``journalctl -p warning`` works, and plain lines leave the
time out (the journal has it).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal, TextIO

CONTEXT_KEYS = ("session_id", "user", "participant", "jumpoint", "jumpoint_id", "target")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_PLAIN_FORMAT = "%(levelname)s %(name)s: %(message)s"
_TOKEN = re.compile(r"\b(oj[tjr]_)[A-Za-z0-9_-]{20,}")
_SYSLOG_PRIORITY = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}


def scrub(text: str) -> str:
    """``text`` with every token-shaped string cut to its prefix (``ojj_***``)."""
    return _TOKEN.sub(r"\1***", text)


def _priority(record: logging.LogRecord) -> str:
    return f"<{_SYSLOG_PRIORITY.get(record.levelname, 6)}>"


class ContextFormatter(logging.Formatter):
    """``time level logger message [key=value ...]``; with ``journald``, ``<priority>level logger message ...``."""

    def __init__(self, fmt: str = PLAIN_FORMAT, *, journald: bool = False) -> None:
        super().__init__(fmt)
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_KEYS if getattr(record, k, None))
        line = scrub(f"{line} [{context}]" if context else line)
        return _priority(record) + line if self.journald else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald or a log shipper (``<priority>`` first with ``journald``)."""

    def __init__(self, *, journald: bool = False) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        body = {
            "time": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value:
                body[key] = scrub(str(value))
        if record.exc_info:
            body["exception"] = scrub(self.formatException(record.exc_info))
        line = json.dumps(body, ensure_ascii=False)
        return _priority(record) + line if self.journald else line


class ProcessContext(logging.Filter):
    """Adds process-wide context (e.g. ``jumpoint_id``) to every record that does not carry its own."""

    def __init__(self, context: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.context: dict[str, Any] = dict(context or {})

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in self.context.items():
            if value is not None and getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


def is_journal_stream(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``stream`` is the journald stream systemd connected (``JOURNAL_STREAM=device:inode``)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, sep, inode = value.partition(":")
    if not sep or not (value.isascii() and device.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


def setup_logging(
    level: str = "info",
    fmt: Literal["plain", "json"] = "plain",
    *,
    stream: TextIO | None = None,
    context: Mapping[str, Any] | None = None,
) -> ProcessContext:
    """Send logs to ``stream`` (standard error by default) at ``level`` in the chosen format; idempotent (it
    replaces the handlers of an earlier call, so a reload calls it again). Returns the handler's
    :class:`ProcessContext`, holding ``context``; change its ``context`` to add to every later line."""
    out = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(out)
    journald = is_journal_stream(out)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(journald=journald))
    else:
        handler.setFormatter(ContextFormatter(JOURNAL_PLAIN_FORMAT if journald else PLAIN_FORMAT, journald=journald))
    process_context = ProcessContext(context)
    handler.addFilter(process_context)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("asyncssh").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, root.level))
    return process_context
