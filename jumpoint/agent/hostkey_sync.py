"""A Jumpoint cluster member's host-key cache: the local known_hosts file, kept equal to the cluster's trusted keys.

The console holds the keys every member of a Jumpoint trusts (docs/protocol.md, "Jumpoint clusters"). This store
is what the adapters see (a :class:`~jumpoint.core.hostkeys.HostKeyStore`): checks read the local file, so a Jump
never waits on the console; a key the rep saves is written locally and reported to the console (``report``), which
passes it to the other members. The console's messages change the local file: ``hostkeys_sync`` (when the tunnel
comes up: the whole set, replacing the file), ``hostkey_added`` and ``hostkeys_removed``.

A changed key is still always refused: nothing here decides about a presented key, the verdict is the local
file's (``mismatch`` whenever keys are cached for the host and port and none matches).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.core import wire
from jumpoint.core.errors import ProtocolViolation
from jumpoint.core.hostkeys import HostKey, HostKeyVerdict, KnownHost

log = logging.getLogger(__name__)

ReportSaved = Callable[[wire.HostKeySaved], None]


class ClusterHostKeys:
    """The member's :class:`~jumpoint.core.hostkeys.HostKeyStore`: ``inner`` plus the sync with the console.

    ``report`` is called (on the caller's thread, without blocking) with each key a rep saved here; the tunnel
    sends it to the console. Apply the console's messages with :meth:`apply`; call :meth:`reset` when the tunnel
    goes down (a sync that came in part is dropped).
    """

    def __init__(self, inner: FileHostKeyStore, report: ReportSaved | None = None) -> None:
        self.inner = inner
        self.report = report
        self._incoming: list[KnownHost] | None = None

    # --- HostKeyStore ----------------------------------------------------------------------------
    def check(self, host: str, port: int, key: HostKey) -> HostKeyVerdict:
        """The local cache's verdict (the cluster's keys as last synced)."""
        return self.inner.check(host, port, key)

    def trust(self, host: str, port: int, key: HostKey) -> None:
        """Save ``key`` locally (durably), then report it so that the whole cluster trusts it; HostKeyMismatch
        (nothing saved or reported) when another key is cached for ``host:port`` by then."""
        self.inner.trust(host, port, key)
        if self.report is None:
            return
        try:
            saved = wire.HostKeySaved(host=host, port=port, algorithm=key.algorithm, key=key.blob_b64)
        except ValueError as exc:  # a host name the console could not take; the key stays local
            log.warning("the saved key of %s:%d cannot be reported to the console: %s", host, port, exc)
            return
        self.report(saved)

    def list(self) -> list[KnownHost]:
        """Every cached key."""
        return self.inner.list()

    def remove(self, host: str, port: int, fingerprint: str | None = None) -> int:
        """Forget cached keys locally (the console's copy is managed on the console)."""
        return self.inner.remove(host, port, fingerprint)

    # --- the console's messages --------------------------------------------------------------------
    def apply(self, msg: wire.HostKeysSync | wire.HostKeyAdded | wire.HostKeysRemoved) -> None:
        """Apply one of the console's host-key messages to the local cache.

        ``hostkeys_sync`` parts are collected until the last (``more`` false), which replaces the cache with the
        cluster's set; ``hostkey_added`` trusts a key another member saved (beside any other cached for the host:
        the console's set decides); ``hostkeys_removed`` forgets keys an
        administrator removed. Raises ProtocolViolation when a sync grows past what one set may hold.
        """
        if isinstance(msg, wire.HostKeysSync):
            incoming = self._incoming if self._incoming is not None else []
            if len(incoming) + len(msg.keys) > wire.MAX_CLUSTER_KEYS:
                self._incoming = None
                raise ProtocolViolation(f"the console's host-key sync is over {wire.MAX_CLUSTER_KEYS} keys")
            incoming += [KnownHost(k.host, k.port, k.host_key) for k in msg.keys]
            if msg.more:
                self._incoming = incoming
                return
            self._incoming = None
            changed = self.inner.replace(incoming)
            log.info(
                "host keys synced with the Jumpoint cluster: %d key(s)%s",
                len(incoming),
                "" if changed else " (unchanged)",
            )
        elif isinstance(msg, wire.HostKeyAdded):
            self.inner.add(msg.host, msg.port, msg.host_key)
            log.info("another member of the cluster saved a %s key of %s:%d", msg.algorithm, msg.host, msg.port)
        else:
            removed = self.inner.remove(msg.host, msg.port, msg.fingerprint)
            log.info("the console removed %d host key(s) of %s:%d", removed, msg.host, msg.port)

    def reset(self) -> None:
        """Drop a sync that arrived only in part (the tunnel went down)."""
        self._incoming = None
