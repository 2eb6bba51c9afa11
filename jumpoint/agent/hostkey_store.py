"""The Jumpoint's SSH host-key cache: a file in OpenSSH ``known_hosts`` format.

Lines look like ``host alg base64 comment`` (port 22) or ``[host]:port alg base64 comment``; the comment of a
line this store writes records when the key was added (``added 2025-01-31T12:00:00Z``). Host names are
compared case-insensitively; a line may list several names separated by commas. Blank lines and ``#``
comments are kept as they are.

Malformed lines fail closed: every operation raises :class:`ConfigError` naming the file and the line, and
the file is never rewritten while it is malformed, so no other key is lost (and a host whose line is broken
is never silently treated as unknown). Hashed names (``|1|``), patterns and ``@`` markers are refused the
same way. Writes are atomic (temporary file, fsync, rename), the file is mode 0600. Changes are serialised
by a per-file lock shared by every store object of the process and by ``flock`` on ``<file>.lock`` against
other processes (the Jumpoint's CLI editing the cache while the service runs).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jumpoint.core.certificate_trust import shown_fingerprint
from jumpoint.core.errors import ConfigError, HostKeyMismatch
from jumpoint.core.hostkeys import HostKey, HostKeyVerdict, KnownHost, check_known_host, parse_host_key

DEFAULT_PORT = 22
_BRACKETED = re.compile(r"^\[([^\[\]]+)\]:(\d{1,5})$")
_ADDED = re.compile(r"\badded (\S+)")


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of the file: the raw text, and the parsed entry if it holds a key."""

    raw: str
    hosts: tuple[tuple[str, int], ...] = ()
    key: HostKey | None = None
    added_at: str = ""


_Lines = list[_Line]  # inside FileHostKeyStore the method `list` shadows the builtin
_Index = dict[tuple[str, int], tuple[HostKey, ...]]
_Stamp = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class _Cache:
    """The file as last read or written by this process: its stamp (mtime, size, inode), its lines and the keys
    per ``(host, port)``. Replaced whole on every change, so a reader needs no lock to use one."""

    stamp: _Stamp | None
    lines: _Lines
    index: _Index


def _index(lines: Iterable[_Line]) -> _Index:
    keys: dict[tuple[str, int], list[HostKey]] = {}
    for line in lines:
        if line.key is not None:
            for where in line.hosts:
                keys.setdefault(where, []).append(line.key)
    return {where: tuple(found) for where, found in keys.items()}


def _stamp_of(info: os.stat_result) -> _Stamp:
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _entry(host: str, port: int, key: HostKey, added: str) -> _Line:
    """The line this store writes for a checked ``host`` (:func:`check_known_host`) and ``key``, without parsing
    it again."""
    return _Line(f"{_host_token(host, port)} {key.openssh()} openjump added {added}", ((host, port),), key, added)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_FILE_LOCKS: dict[Path, threading.RLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.RLock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path, threading.RLock())


def _host_token(host: str, port: int) -> str:
    host = host.lower()
    return host if port == DEFAULT_PORT else f"[{host}]:{port}"


def _parse_host(token: str) -> tuple[str, int]:
    if token.startswith("|"):
        raise ValueError("hashed host names are not supported: write the host name in clear")
    if any(ch in token for ch in "*?!"):
        raise ValueError(f"host patterns are not supported: {token!r}")
    match = _BRACKETED.match(token)
    if match:
        port = int(match.group(2))
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port} is out of range")
        return match.group(1).lower(), port
    if "[" in token or "]" in token:
        raise ValueError(f"host {token!r} is not 'name' or '[name]:port'")
    return token.lower(), DEFAULT_PORT


def _parse_line(raw: str) -> _Line:
    text = raw.strip()
    if not text or text.startswith("#"):
        return _Line(raw)
    if text.startswith("@"):
        raise ValueError("markers such as @cert-authority and @revoked are not supported")
    fields = text.split(None, 3)
    if len(fields) < 3:
        raise ValueError("expected 'host algorithm base64-key [comment]'")
    hosts = tuple(_parse_host(token) for token in fields[0].split(",") if token)
    if not hosts:
        raise ValueError("no host name")
    key = parse_host_key(fields[1], fields[2])
    comment = fields[3] if len(fields) == 4 else ""
    added = _ADDED.search(comment)
    return _Line(raw, hosts, key, added.group(1) if added else "")


def saved_meanwhile(host: str, port: int, cached: tuple[HostKey, ...], presented: HostKey) -> HostKeyMismatch:
    """The refusal of a Save when other keys were cached for ``host:port`` while the rep decided."""
    where = f"{host}:{port}"
    old = ", ".join(shown_fingerprint(key) for key in cached)
    new = shown_fingerprint(presented)
    return HostKeyMismatch(
        f"the host key of {where} has changed: while this connection waited for the answer, the Jumpoint came to "
        f"trust {old} for it, but this server presents {new}. Someone may be intercepting one of the connections; "
        "the key was not saved and the connection was refused",
        hint=(
            "verify both fingerprints with the machine's owner; if the new key is the right one, an administrator "
            f"removes the cached key of {where} from the Jumpoint's known hosts, then connect again"
        ),
        details={
            "target": where,
            "cached": [key.fingerprint for key in cached],
            "presented": presented.fingerprint,
        },
    )


class FileHostKeyStore:
    """A :class:`~jumpoint.core.hostkeys.HostKeyStore` on one known_hosts file (created empty, mode 0600).

    The file is parsed once and then kept in memory with an index by host and port: a check is a dictionary lookup
    (and a ``stat`` to notice another process's change, which alone makes the file be read again), and this store's
    own changes update the memory copy as they write the file, without reading it back. Checks take no lock, so
    one never waits for a change another thread is writing (a large :meth:`replace` runs in a worker thread).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).absolute()
        self._lock = _file_lock(self.path)
        self._cache = _Cache(None, [], {})
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._changing():
            if not self.path.exists():
                self._write([], {})

    # --- HostKeyStore ---------------------------------------------------------------------------
    def check(self, host: str, port: int, key: HostKey) -> HostKeyVerdict:
        """``valid`` if ``key`` is cached for ``host:port``, ``mismatch`` if others are, else ``unknown``."""
        known = self._current().index.get((host.lower(), port), ())
        if not known:
            return HostKeyVerdict("unknown")
        if key in known:
            return HostKeyVerdict("valid", known)
        return HostKeyVerdict("mismatch", known)

    def trust(self, host: str, port: int, key: HostKey) -> None:
        """Add ``key`` for ``host:port`` (the rep's Save) and make it durable before returning (no-op if already
        there).

        The check is made again under the file lock: when another key is cached for ``host:port`` by then (another
        session's rep, or another member of the cluster, saved one while this rep decided), HostKeyMismatch
        showing both fingerprints is raised and nothing is written. So a second, different key is never saved for
        a host: a changed key stays refused.
        """
        parse_host_key(key.algorithm, key.blob_b64)
        with self._changing():
            known = self._load().index.get((host.lower(), port), ())
            if key in known:
                return
            if known:
                raise saved_meanwhile(host, port, known, key)
            self._append(host, port, key)

    def add(self, host: str, port: int, key: HostKey) -> None:
        """Add ``key`` for ``host:port`` beside any key cached for it, durably (no-op if already there).

        For the console's ``hostkey_added``: the console holds the cluster's set and decides what it trusts.
        """
        parse_host_key(key.algorithm, key.blob_b64)
        with self._changing():
            if key not in self._load().index.get((host.lower(), port), ()):
                self._append(host, port, key)

    def list(self) -> list[KnownHost]:
        """Every cached key, one entry per host name, in file order."""
        lines = self._current().lines
        return [KnownHost(h, p, line.key, line.added_at) for line in lines if line.key for h, p in line.hosts]

    def remove(self, host: str, port: int, fingerprint: str | None = None) -> int:
        """Forget ``host:port``'s keys (only the one with ``fingerprint`` if given); return how many."""
        wanted = (host.lower(), port)
        removed = 0
        kept: _Lines = []
        with self._changing():
            cache = self._load()
            if wanted not in cache.index:
                return 0
            for line in cache.lines:
                if line.key is None or wanted not in line.hosts:
                    kept.append(line)
                    continue
                if fingerprint is not None and line.key.fingerprint != fingerprint:
                    kept.append(line)
                    continue
                removed += 1
                others = [h for h in line.hosts if h != wanted]
                if others:
                    names = ",".join(_host_token(h, p) for h, p in others)
                    rest = line.raw.strip().split(None, 1)[1]
                    kept.append(_parse_line(f"{names} {rest}"))
            if removed:
                self._write(kept, _index(kept))
        return removed

    # --- a cluster member's sync ------------------------------------------------------------------
    def replace(self, entries: Iterable[KnownHost]) -> bool:
        """Make the cache hold exactly ``entries`` (the Jumpoint cluster's trusted keys, from the console).

        Every entry is checked first (ValueError names the bad one, and nothing changes). A key already cached for
        the same host and port keeps its ``added`` time; the others get the entry's ``added_at`` or now. Unlike
        the other changes, this one also replaces a malformed file: the console holds every key the cluster
        trusts, so nothing is lost. Returns whether the file changed (it is not rewritten when it already holds
        exactly these keys). With many keys this takes a while (100,000: about a second): call it off the event
        loop; checks meanwhile answer from the cache as it was.
        """
        wanted: dict[tuple[str, int, HostKey], str] = {}
        for entry in entries:
            key = parse_host_key(entry.key.algorithm, entry.key.blob_b64)
            if not 1 <= entry.port <= 65535:
                raise ValueError(f"port {entry.port} is out of range")
            wanted.setdefault((check_known_host(entry.host), entry.port, key), entry.added_at)
        with self._changing():
            try:
                lines = self._load().lines
            except ConfigError:
                current: dict[tuple[str, int, HostKey], str] = {}
            else:
                current = {(h, p, line.key): line.added_at for line in lines if line.key for h, p in line.hosts}
                if current.keys() == wanted.keys():
                    return False
            now = _now()
            new = [
                _entry(host, port, key, current.get((host, port, key)) or added_at or now)
                for (host, port, key), added_at in wanted.items()
            ]
            self._write(new, _index(new))
        return True

    # --- file -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the thread lock and the inter-process lock for a read-modify-write."""
        with self._lock:
            fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _append(self, host: str, port: int, key: HostKey) -> None:
        """Write the file with one more line (under :meth:`_changing`, after :meth:`_load`)."""
        cache = self._cache
        line = _parse_line(f"{_host_token(host, port)} {key.openssh()} openjump added {_now()}")
        index = dict(cache.index)
        for where in line.hosts:
            index[where] = (*index.get(where, ()), key)
        self._write([*cache.lines, line], index)

    def _current(self) -> _Cache:
        """The cache, read again (under the lock) only when the file changed on disk since."""
        cache = self._cache
        if cache.stamp is not None and cache.stamp == self._disk_stamp():
            return cache
        with self._lock:
            return self._load()

    def _disk_stamp(self) -> _Stamp | None:
        try:
            return _stamp_of(self.path.stat())
        except FileNotFoundError:
            return None

    def _load(self) -> _Cache:
        """The parsed file, re-read only when it changed on disk (call with the lock held); raises ConfigError
        on a malformed line."""
        stamp = self._disk_stamp()
        if stamp is None:
            self._cache = _Cache(None, [], {})
            return self._cache
        if stamp == self._cache.stamp:
            return self._cache
        lines: _Lines = []
        with self.path.open(encoding="utf-8", errors="strict") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    lines.append(_parse_line(raw.rstrip("\n")))
                except ValueError as exc:
                    raise ConfigError(
                        f"{self.path} line {number} is not a valid known_hosts entry: {exc}",
                        hint="fix or delete that line; the file is left untouched until then",
                        details={"file": str(self.path), "line": number},
                    ) from None
        self._cache = _Cache(stamp, lines, _index(lines))
        return self._cache

    def _write(self, lines: _Lines, index: _Index) -> None:
        """Replace the file atomically (temp file (0600) in the same directory, fsync, rename, fsync dir), then
        make ``lines`` and their ``index`` the cache, stamped as written (so it is not read back)."""
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                if not lines:
                    handle.write("# SSH host keys trusted by this Jumpoint (OpenSSH known_hosts format)\n")
                handle.write("".join(line.raw.rstrip("\n") + "\n" for line in lines))
                handle.flush()
                os.fsync(handle.fileno())
                stamp = _stamp_of(os.fstat(handle.fileno()))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        if not lines:
            lines = [_Line("# SSH host keys trusted by this Jumpoint (OpenSSH known_hosts format)")]
        self._cache = _Cache(stamp, lines, index)
