"""The Jumpoint's known_hosts file: what an administrator sees in it and what a check answers."""

from __future__ import annotations

import base64
import os
import stat
import struct
import threading
from pathlib import Path

import pytest

from jumpoint.agent import hostkey_store
from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.core.errors import ConfigError, HostKeyMismatch
from jumpoint.core.hostkeys import HostKey, KnownHost


def make_key(seed: int, algorithm: str = "ssh-ed25519") -> HostKey:
    name = algorithm.encode()
    blob = struct.pack(">I", len(name)) + name + struct.pack(">I", 32) + bytes([seed]) * 32
    return HostKey(algorithm, base64.b64encode(blob).decode())


KEY_A, KEY_B, KEY_C = make_key(1), make_key(2), make_key(3, "ssh-rsa")


def test_a_new_store_is_an_empty_file_readable_only_by_the_owner(tmp_path: Path) -> None:
    store = FileHostKeyStore(tmp_path / "state" / "known_hosts")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.list() == []
    assert store.check("host", 22, KEY_A).status == "unknown"


def test_trusted_keys_are_written_in_openssh_format_with_the_date_added(tmp_path: Path) -> None:
    store = FileHostKeyStore(tmp_path / "known_hosts")
    store.trust("Server.Example", 22, KEY_A)
    store.trust("10.0.0.5", 2222, KEY_B)
    lines = [line for line in store.path.read_text().splitlines() if not line.startswith("#")]
    assert lines[0].startswith(f"server.example {KEY_A.algorithm} {KEY_A.blob_b64} openjump added 20")
    assert lines[1].startswith(f"[10.0.0.5]:2222 {KEY_B.algorithm} {KEY_B.blob_b64} ")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    listed = store.list()
    assert [(k.host, k.port, k.key) for k in listed] == [
        ("server.example", 22, KEY_A),
        ("10.0.0.5", 2222, KEY_B),
    ]
    assert all(k.added_at.endswith("Z") for k in listed)


def test_a_check_says_valid_for_the_cached_key_and_mismatch_for_any_other(tmp_path: Path) -> None:
    store = FileHostKeyStore(tmp_path / "known_hosts")
    store.trust("host", 22, KEY_A)
    assert store.check("HOST", 22, KEY_A).status == "valid"
    verdict = store.check("host", 22, KEY_B)
    assert (verdict.status, verdict.known) == ("mismatch", (KEY_A,))
    assert store.check("host", 22, KEY_C).status == "mismatch"
    assert store.check("host", 2022, KEY_B).status == "unknown"


def test_trusting_a_second_different_key_for_a_host_is_refused_showing_both_and_writes_nothing(
    tmp_path: Path,
) -> None:
    store = FileHostKeyStore(tmp_path / "known_hosts")
    store.trust("host", 22, KEY_A)
    before = store.path.read_text()
    with pytest.raises(HostKeyMismatch) as refused:
        store.trust("HOST", 22, KEY_C)
    assert refused.value.details == {"target": "HOST:22", "cached": [KEY_A.fingerprint], "presented": KEY_C.fingerprint}
    assert f"{KEY_A.fingerprint} ({KEY_A.algorithm})" in refused.value.message
    assert f"{KEY_C.fingerprint} ({KEY_C.algorithm})" in refused.value.message
    assert store.path.read_text() == before
    store.trust("host", 2222, KEY_C)  # another port is another host
    assert store.check("host", 2222, KEY_C).status == "valid"


def test_a_key_the_console_adds_goes_beside_the_cached_ones(tmp_path: Path) -> None:
    store = FileHostKeyStore(tmp_path / "known_hosts")
    store.trust("host", 22, KEY_A)
    store.add("host", 22, KEY_C)
    store.add("host", 22, KEY_C)
    assert [k.key for k in store.list()] == [KEY_A, KEY_C]


def test_trusting_the_same_key_twice_writes_it_once(tmp_path: Path) -> None:
    store = FileHostKeyStore(tmp_path / "known_hosts")
    store.trust("host", 22, KEY_A)
    store.trust("host", 22, KEY_A)
    assert len(store.list()) == 1


def test_the_cache_survives_a_new_store_on_the_same_file(tmp_path: Path) -> None:
    FileHostKeyStore(tmp_path / "known_hosts").trust("host", 2200, KEY_A)
    assert FileHostKeyStore(tmp_path / "known_hosts").check("host", 2200, KEY_A).status == "valid"


def test_remove_forgets_one_fingerprint_or_every_key_of_a_host(tmp_path: Path) -> None:
    store = FileHostKeyStore(tmp_path / "known_hosts")
    store.trust("host", 22, KEY_A)
    store.add("host", 22, KEY_C)
    store.trust("other", 22, KEY_B)
    assert store.remove("host", 22, KEY_C.fingerprint) == 1
    assert store.check("host", 22, KEY_A).status == "valid"
    assert store.remove("host", 22) == 1
    assert store.remove("host", 22) == 0
    assert [k.host for k in store.list()] == ["other"]


def test_hand_written_comments_blank_lines_and_host_lists_are_understood_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(
        f"# copied from the admin's laptop\n\nweb1,10.0.0.7 {KEY_A.openssh()}\n[db]:2200 {KEY_B.openssh()} note\n"
    )
    store = FileHostKeyStore(path)
    assert store.check("10.0.0.7", 22, KEY_A).status == "valid"
    assert store.check("db", 2200, KEY_B).status == "valid"
    assert store.remove("web1", 22) == 1
    text = path.read_text()
    assert "# copied from the admin's laptop" in text
    assert store.check("10.0.0.7", 22, KEY_A).status == "valid"
    assert store.check("web1", 22, KEY_A).status == "unknown"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("host ssh-ed25519", "expected 'host algorithm base64-key"),
        ("host ssh-ed25519 not*base64", "not valid base64"),
        (f"host ssh-rsa {KEY_A.blob_b64}", "not an ssh-rsa key"),
        (f"|1|abc=|def= {KEY_A.openssh()}", "hashed host names are not supported"),
        (f"*.example {KEY_A.openssh()}", "patterns are not supported"),
        (f"@cert-authority *.example {KEY_A.openssh()}", "markers"),
    ],
)
def test_a_malformed_line_is_refused_naming_file_and_line_and_nothing_is_lost(
    tmp_path: Path, line: str, reason: str
) -> None:
    path = tmp_path / "known_hosts"
    original = f"good {KEY_A.openssh()}\n# comment\n{line}\nalso-good {KEY_B.openssh()}\n"
    path.write_text(original)
    store = FileHostKeyStore(path)
    with pytest.raises(ConfigError, match=f"{path} line 3 .*{reason}"):
        store.check("good", 22, KEY_A)
    with pytest.raises(ConfigError):
        store.trust("new", 22, KEY_C)
    with pytest.raises(ConfigError):
        store.remove("good", 22)
    assert path.read_text() == original
    path.write_text(original.replace(line + "\n", ""))
    assert store.check("also-good", 22, KEY_B).status == "valid"


def test_concurrent_trusts_from_many_threads_all_land(tmp_path: Path) -> None:
    store = FileHostKeyStore(tmp_path / "known_hosts")
    # Separate store objects on one file, as the service and its helpers create them.
    stores = [FileHostKeyStore(store.path) for _ in range(4)]
    threads = [threading.Thread(target=stores[i % 4].trust, args=(f"host{i}", 22, make_key(i))) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(k.host for k in FileHostKeyStore(store.path).list()) == sorted(f"host{i}" for i in range(20))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["known_hosts", "known_hosts.lock"]


def test_checks_answer_from_memory_and_the_stores_own_changes_are_not_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileHostKeyStore(tmp_path / "known_hosts")
    store.replace([KnownHost(f"host{i}", 22, make_key(i)) for i in range(50)])
    parsed: list[str] = []
    real_parse = hostkey_store._parse_line

    def parse(raw: str) -> hostkey_store._Line:
        parsed.append(raw)
        return real_parse(raw)

    monkeypatch.setattr(hostkey_store, "_parse_line", parse)
    for i in range(50):
        assert store.check(f"host{i}", 22, make_key(i)).status == "valid"
    store.trust("new", 22, KEY_A)
    store.add("new", 22, KEY_C)
    assert store.remove("host7", 22) == 1
    assert store.check("new", 22, KEY_C).status == "valid"
    assert store.check("host7", 22, make_key(7)).status == "unknown"
    assert len(store.list()) == 51
    assert len(parsed) == 2  # only the two lines written, never the file
    # Another process's change is still seen (the file's stamp changed).
    FileHostKeyStore(store.path).remove("new", 22)
    assert store.check("new", 22, KEY_A).status == "unknown"
