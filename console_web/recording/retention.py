"""Deleting recordings: one session's (an audited admin action), or all those older than the retention period."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Collection
from pathlib import Path

from console_web.recording.files import ALL_SUFFIXES, CAST, DESKTOP, TRANSCRIPT, recording_path, split_name
from jumpoint.core.errors import BadRequest, InternalError

log = logging.getLogger(__name__)


def delete_recording(directory: Path, session_id: str) -> bool:
    """Delete the session's recording files (a terminal's cast, transcript and time index; a desktop's stream and
    keyframe index; an MP4 export, finished or not); True when any of them existed.

    An invalid session id raises :class:`BadRequest`; a file that exists but cannot be deleted
    :class:`InternalError` (the others are still deleted).
    """
    removed = False
    failure: InternalError | None = None
    for suffix in ALL_SUFFIXES:
        path = recording_path(directory, session_id, suffix)
        try:
            path.unlink()
            removed = True
        except FileNotFoundError:
            pass
        except OSError as exc:
            failure = failure or InternalError(f"cannot delete the recording file {path}: {exc.strerror}")
    if failure is not None:
        raise failure
    return removed


def sweep(directory: Path, older_than_days: int, *, keep: Collection[str] = ()) -> list[str]:
    """Delete every recording last written more than ``older_than_days`` days ago (by the modification time of its
    cast or desktop stream, or of its transcript when it has neither); return the ids of the sessions deleted, sorted.

    ``keep`` names sessions never to delete (live ones: a session silent for days keeps an old cast). Files that are
    not recordings are left alone. ``older_than_days`` below 1 raises :class:`BadRequest`. A recording that cannot be
    deleted is logged and left out of the result; the sweep goes on.
    """
    if older_than_days < 1:
        raise BadRequest(f"older_than_days must be at least 1, not {older_than_days}")
    cutoff = time.time() - older_than_days * 86400
    last_written: dict[str, float] = {}
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InternalError(f"cannot list the recordings directory {directory}: {exc.strerror}") from None
    for entry in entries:
        parts = split_name(entry.name)
        if parts is None or parts[1] not in (CAST, DESKTOP, TRANSCRIPT) or parts[0] in keep:
            continue
        session_id, suffix = parts
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if suffix != TRANSCRIPT or session_id not in last_written:
            last_written[session_id] = mtime
    expired: list[str] = []
    for session_id, mtime in sorted(last_written.items()):
        if mtime >= cutoff:
            continue
        try:
            delete_recording(directory, session_id)
        except InternalError as exc:
            log.error("retention: %s", exc.message)
            continue
        expired.append(session_id)
    return expired
