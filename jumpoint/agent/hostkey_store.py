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

import base64
import binascii
import contextlib
import fcntl
import os
import re
import struct
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jumpoint.core.errors import ConfigError
from jumpoint.core.hostkeys import HostKey, HostKeyVerdict, KnownHost

DEFAULT_PORT = 22
_BRACKETED = re.compile(r"^\[([^\[\]]+)\]:(\d{1,5})$")
_ADDED = re.compile(r"\badded (\S+)")
_ALGORITHM = re.compile(r"^[A-Za-z0-9@._+-]{1,64}$")


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of the file: the raw text, and the parsed entry if it holds a key."""

    raw: str
    hosts: tuple[tuple[str, int], ...] = ()
    key: HostKey | None = None
    added_at: str = ""


_Lines = list[_Line]  # inside FileHostKeyStore the method `list` shadows the builtin
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


def _parse_key(algorithm: str, blob_b64: str) -> HostKey:
    if not _ALGORITHM.match(algorithm):
        raise ValueError(f"{algorithm!r} is not a key algorithm name")
    try:
        blob = base64.b64decode(blob_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key is not valid base64") from None
    if len(blob) < 4:
        raise ValueError("the key is too short")
    (size,) = struct.unpack(">I", blob[:4])
    if blob[4 : 4 + size] != algorithm.encode():
        raise ValueError(f"the key data is not an {algorithm} key")
    return HostKey(algorithm=algorithm, blob_b64=blob_b64)


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
    key = _parse_key(fields[1], fields[2])
    comment = fields[3] if len(fields) == 4 else ""
    added = _ADDED.search(comment)
    return _Line(raw, hosts, key, added.group(1) if added else "")


class FileHostKeyStore:
    """A :class:`~jumpoint.core.hostkeys.HostKeyStore` on one known_hosts file (created empty, mode 0600)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).absolute()
        self._lock = _file_lock(self.path)
        self._lines: _Lines = []
        self._stamp: tuple[int, int, int] | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._changing():
            if not self.path.exists():
                self._write([])

    # --- HostKeyStore ---------------------------------------------------------------------------
    def check(self, host: str, port: int, key: HostKey) -> HostKeyVerdict:
        """``valid`` if ``key`` is cached for ``host:port``, ``mismatch`` if others are, else ``unknown``."""
        with self._lock:
            known = tuple(self._keys(host, port))
        if not known:
            return HostKeyVerdict("unknown")
        if key in known:
            return HostKeyVerdict("valid", known)
        return HostKeyVerdict("mismatch", known)

    def trust(self, host: str, port: int, key: HostKey) -> None:
        """Add ``key`` for ``host:port`` and make it durable before returning (no-op if already there)."""
        _parse_key(key.algorithm, key.blob_b64)
        with self._changing():
            lines = self._load()
            if key in self._keys(host, port):
                return
            added = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            raw = f"{_host_token(host, port)} {key.openssh()} openjump added {added}"
            self._write([*lines, _parse_line(raw)])

    def list(self) -> list[KnownHost]:
        """Every cached key, one entry per host name, in file order."""
        with self._lock:
            lines = self._load()
        return [KnownHost(h, p, line.key, line.added_at) for line in lines if line.key for h, p in line.hosts]

    def remove(self, host: str, port: int, fingerprint: str | None = None) -> int:
        """Forget ``host:port``'s keys (only the one with ``fingerprint`` if given); return how many."""
        wanted = (host.lower(), port)
        removed = 0
        kept: _Lines = []
        with self._changing():
            for line in self._load():
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
                self._write(kept)
        return removed

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

    def _keys(self, host: str, port: int) -> tuple[HostKey, ...]:
        wanted = (host.lower(), port)
        return tuple(line.key for line in self._load() if line.key is not None and wanted in line.hosts)

    def _load(self) -> _Lines:
        """The parsed file, re-read only when it changed on disk; raises ConfigError on a malformed line."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._lines, self._stamp = [], None
            return self._lines
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        if stamp == self._stamp:
            return self._lines
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
        self._lines, self._stamp = lines, stamp
        return lines

    def _write(self, lines: _Lines) -> None:
        """Replace the file atomically: temp file (0600) in the same directory, fsync, rename, fsync dir."""
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                if not lines:
                    handle.write("# SSH host keys trusted by this Jumpoint (OpenSSH known_hosts format)\n")
                for line in lines:
                    handle.write(line.raw.rstrip("\n") + "\n")
                handle.flush()
                os.fsync(handle.fileno())
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
        self._stamp = None
