"""Where a session's recording lives: ``<dir>/<session_id>.cast`` (asciicast v2), ``.txt`` (the transcript) and
``.tidx`` (the transcript's time index) for a terminal; ``.ojd`` (the desktop event stream) and ``.didx`` (its
keyframe index) for a desktop; ``.mp4`` (a finished MP4 export of a desktop recording) and ``.mp4.part`` (one being
made). Session ids are checked here, so no path can leave the directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from jumpoint.core.errors import BadRequest

CAST: Final = ".cast"
TRANSCRIPT: Final = ".txt"
TIME_INDEX: Final = ".tidx"
SUFFIXES: Final = (CAST, TRANSCRIPT, TIME_INDEX)
"""The files of a terminal recording (the terminal recorder creates each of them)."""
DESKTOP: Final = ".ojd"
DESKTOP_INDEX: Final = ".didx"
DESKTOP_SUFFIXES: Final = (DESKTOP, DESKTOP_INDEX)
"""The files of a desktop recording (the desktop recorder creates each of them)."""
EXPORT_MP4: Final = ".mp4"
EXPORT_PART: Final = ".mp4.part"
ALL_SUFFIXES: Final = (*SUFFIXES, *DESKTOP_SUFFIXES, EXPORT_MP4, EXPORT_PART)
"""Every file a session's recording may have (deleting a recording deletes all of them)."""
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
    """The path of one of the session's files (``suffix`` is one of :data:`ALL_SUFFIXES`; the id is checked)."""
    if suffix not in ALL_SUFFIXES:
        raise ValueError(f"not a recording file suffix: {suffix!r}")
    return directory / (check_session_id(session_id) + suffix)


def split_name(name: str) -> tuple[str, str] | None:
    """``(session_id, suffix)`` of a recording file's name (``abc.mp4.part`` -> ``("abc", ".mp4.part")``), or None
    for a name that is not one."""
    session_id, dot, rest = name.partition(".")
    suffix = dot + rest
    if suffix not in ALL_SUFFIXES or not is_session_id(session_id):
        return None
    return session_id, suffix
