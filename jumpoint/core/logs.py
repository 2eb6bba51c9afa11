"""Logging set-up shared by the console and the Jumpoint: plain or JSON lines with session context.

Context travels as ``logging.LoggerAdapter`` extras (``session_id``, ``user``, ``participant``,
``jumpoint``, ``target``); the formatters append whichever are present. Secrets never reach a log
because they are :class:`~jumpoint.core.secret.Secret` objects, which format as ``***``.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Literal

CONTEXT_KEYS = ("session_id", "user", "participant", "jumpoint", "target")


class ContextFormatter(logging.Formatter):
    """``time level logger message [key=value ...]``."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_KEYS if getattr(record, k, None))
        return f"{line} [{context}]" if context else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald or a log shipper."""

    def format(self, record: logging.LogRecord) -> str:
        body = {
            "time": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value:
                body[key] = str(value)
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: Literal["plain", "json"] = "plain") -> None:
    """Send logs to stderr at ``level`` in the chosen format (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ContextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("asyncssh").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, root.level))
