"""A cluster member's host-key cache: a key its rep saves is reported to the console, and the console's messages
(the whole set when the tunnel comes up, keys other members saved, keys an administrator removed) change the local
known_hosts file; a changed key is still refused."""

from __future__ import annotations

import asyncio
import base64
import struct
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.agent.hostkey_sync import ClusterHostKeys
from jumpoint.agent.tunnel import TunnelClient, TunnelSettings
from jumpoint.core import wire
from jumpoint.core.errors import ConfigError, HostKeyMismatch
from jumpoint.core.hostkeys import HostKey, KnownHost


def make_key(seed: int, algorithm: str = "ssh-ed25519") -> HostKey:
    name = algorithm.encode()
    blob = struct.pack(">I", len(name)) + name + struct.pack(">I", 32) + bytes([seed]) * 32
    return HostKey(algorithm, base64.b64encode(blob).decode())


KEY_A, KEY_B, KEY_C = make_key(1), make_key(2), make_key(3)


def entry(host: str, port: int, key: HostKey) -> wire.HostKeyEntry:
    return wire.HostKeyEntry(host=host, port=port, algorithm=key.algorithm, key=key.blob_b64)


def cached(store: FileHostKeyStore) -> set[tuple[str, int, HostKey]]:
    return {(k.host, k.port, k.key) for k in store.list()}


@pytest.fixture
def files(tmp_path: Path) -> FileHostKeyStore:
    return FileHostKeyStore(tmp_path / "known_hosts")


def test_a_key_the_rep_saves_is_kept_locally_and_reported_to_the_console(files: FileHostKeyStore) -> None:
    reported: list[wire.HostKeySaved] = []
    store = ClusterHostKeys(files, report=reported.append)
    assert store.check("Web.LAN", 22, KEY_A).status == "unknown"
    store.trust("Web.LAN", 22, KEY_A)
    assert store.check("web.lan", 22, KEY_A).status == "valid"
    assert reported == [wire.HostKeySaved(host="web.lan", port=22, algorithm=KEY_A.algorithm, key=KEY_A.blob_b64)]


def test_a_different_key_the_rep_saves_for_a_host_the_cluster_already_trusts_is_refused_and_not_reported(
    files: FileHostKeyStore,
) -> None:
    reported: list[wire.HostKeySaved] = []
    store = ClusterHostKeys(files, report=reported.append)
    store.apply(wire.HostKeyAdded(host="web.lan", port=22, algorithm=KEY_A.algorithm, key=KEY_A.blob_b64))
    with pytest.raises(HostKeyMismatch):
        store.trust("web.lan", 22, KEY_B)
    assert cached(files) == {("web.lan", 22, KEY_A)}
    assert reported == []


def test_the_clusters_keys_replace_the_cache_once_the_last_part_of_the_sync_arrived(files: FileHostKeyStore) -> None:
    files.trust("old.lan", 22, KEY_A)
    files.trust("web.lan", 22, KEY_B)
    added_before = {k.host: k.added_at for k in files.list()}
    store = ClusterHostKeys(files)
    store.apply(wire.HostKeysSync(keys=[entry("web.lan", 22, KEY_B)], more=True))
    assert cached(files) == {("old.lan", 22, KEY_A), ("web.lan", 22, KEY_B)}  # nothing changes before the last part
    store.apply(wire.HostKeysSync(keys=[entry("db.lan", 2222, KEY_C)]))
    assert cached(files) == {("web.lan", 22, KEY_B), ("db.lan", 2222, KEY_C)}
    assert {k.host: k.added_at for k in files.list()}["web.lan"] == added_before["web.lan"]
    # The same set again does not rewrite the file.
    stamp = files.path.stat().st_mtime_ns, files.path.stat().st_ino
    assert not files.replace([KnownHost("web.lan", 22, KEY_B), KnownHost("db.lan", 2222, KEY_C)])
    assert (files.path.stat().st_mtime_ns, files.path.stat().st_ino) == stamp


def test_a_sync_cut_short_by_a_lost_tunnel_changes_nothing(files: FileHostKeyStore) -> None:
    files.trust("old.lan", 22, KEY_A)
    store = ClusterHostKeys(files)
    store.apply(wire.HostKeysSync(keys=[entry("web.lan", 22, KEY_B)], more=True))
    store.reset()
    store.apply(wire.HostKeysSync(keys=[entry("db.lan", 22, KEY_C)]))
    assert cached(files) == {("db.lan", 22, KEY_C)}


def test_an_empty_sync_empties_the_cache(files: FileHostKeyStore) -> None:
    files.trust("old.lan", 22, KEY_A)
    ClusterHostKeys(files).apply(wire.HostKeysSync(keys=[]))
    assert files.list() == []


def test_keys_other_members_saved_are_trusted_and_keys_an_administrator_removed_are_forgotten(
    files: FileHostKeyStore,
) -> None:
    reported: list[wire.HostKeySaved] = []
    store = ClusterHostKeys(files, report=reported.append)
    store.apply(wire.HostKeyAdded(host="web.lan", port=22, algorithm=KEY_A.algorithm, key=KEY_A.blob_b64))
    store.apply(wire.HostKeyAdded(host="web.lan", port=22, algorithm=KEY_B.algorithm, key=KEY_B.blob_b64))
    assert store.check("web.lan", 22, KEY_A).status == "valid"
    assert reported == []  # what the console sent is not reported back
    store.apply(wire.HostKeysRemoved(host="web.lan", port=22, fingerprint=KEY_A.fingerprint))
    assert cached(files) == {("web.lan", 22, KEY_B)}
    store.apply(wire.HostKeysRemoved(host="web.lan", port=22))
    assert store.check("web.lan", 22, KEY_B).status == "unknown"


def test_a_changed_key_is_still_refused_after_a_sync(files: FileHostKeyStore) -> None:
    store = ClusterHostKeys(files)
    store.apply(wire.HostKeysSync(keys=[entry("web.lan", 22, KEY_A)]))
    verdict = store.check("web.lan", 22, KEY_B)
    assert verdict.status == "mismatch" and verdict.known == (KEY_A,)


def test_the_clusters_keys_replace_a_malformed_file_which_other_changes_refuse(files: FileHostKeyStore) -> None:
    files.path.write_text("this is not a known_hosts line\n")
    with pytest.raises(ConfigError):
        files.trust("web.lan", 22, KEY_A)
    ClusterHostKeys(files).apply(wire.HostKeysSync(keys=[entry("web.lan", 22, KEY_A)]))
    assert cached(files) == {("web.lan", 22, KEY_A)}


def test_replace_refuses_a_bad_entry_and_changes_nothing(files: FileHostKeyStore) -> None:
    files.trust("web.lan", 22, KEY_A)
    with pytest.raises(ValueError, match="not a plain host name"):
        files.replace([KnownHost("db.lan", 22, KEY_B), KnownHost("bad host", 22, KEY_C)])
    with pytest.raises(ValueError, match="port 0 is out of range"):
        files.replace([KnownHost("db.lan", 0, KEY_B)])
    assert cached(files) == {("web.lan", 22, KEY_A)}


async def test_the_tunnel_replaces_the_cache_in_a_worker_thread_and_applies_messages_in_order(
    files: FileHostKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real_replace = FileHostKeyStore.replace

    def replace(self: FileHostKeyStore, entries: Iterable[KnownHost]) -> bool:
        threads.append(threading.current_thread().name)
        time.sleep(0.2)  # a large sync
        return real_replace(self, entries)

    monkeypatch.setattr(FileHostKeyStore, "replace", replace)
    client = TunnelClient(
        TunnelSettings(console_url="http://console", token="t"), adapters={}, host_keys=files, credentials=None
    )
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await client._on_tunnel_control(wire.HostKeysSync(keys=[entry("web.lan", 22, KEY_A)], more=True))
    await client._on_tunnel_control(wire.HostKeysSync(keys=[entry("db.lan", 22, KEY_B)]))
    await client._on_tunnel_control(
        wire.HostKeyAdded(host="new.lan", port=22, algorithm=KEY_C.algorithm, key=KEY_C.blob_b64)
    )
    ticker.cancel()
    assert threads and threading.main_thread().name not in threads
    assert ticks >= 10  # the loop went on while the cache was replaced
    assert cached(files) == {("web.lan", 22, KEY_A), ("db.lan", 22, KEY_B), ("new.lan", 22, KEY_C)}
