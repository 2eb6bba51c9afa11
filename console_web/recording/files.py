"""Where a session's recording lives: ``<dir>/<session_id>.cast`` (asciicast v2), ``.txt`` (the transcript) and
``.tidx`` (the transcript's time index). Session ids are checked here, so no path can leave the directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from jumpoint.core.errors import BadRequest

CAST: Final = ".cast"
TRANSCRIPT: Final = ".txt"
TIME_INDEX: Final = ".tidx"
SUFFIXES: Final = (CAST, TRANSCRIPT, TIME_INDEX)
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_session_id(value: str) -> bool:
    """Whether ``value`` is a session id: 1 to 64 of ``A-Z a-z 0-9 _ -``."""
    return _SESSION_ID.fullmatch(value) is not None


def check_session_id(value: str) -> str:
    """``value`` when it is a session id; :class:`BadRequest` otherwise."""
    if not is_session_id(value):
        raise BadRequest("a session id is 1 to 64 letters, digits, '_' or '-'")
    return value


def recording_path(directory: Path, session_id: str, suffix: str) -> Path:
    """The path of one of the session's files (``suffix`` is one of :data:`SUFFIXES`; the id is checked)."""
    if suffix not in SUFFIXES:
        raise ValueError(f"not a recording file suffix: {suffix!r}")
    return directory / (check_session_id(session_id) + suffix)
