"""The tunnel messages that keep a Jumpoint cluster's host keys consistent (``hostkey_saved``, ``hostkey_added``,
``hostkeys_removed``, ``hostkeys_sync``): valid ones round-trip, malformed ones are refused with a message that says
what is wrong, and the console's end of a tunnel refuses them where they do not belong."""

from __future__ import annotations

import base64
import json
import struct
from types import SimpleNamespace
from typing import Any

import pytest

from console_web.hub.link import JumpointLink
from jumpoint.core import wire
from jumpoint.core.errors import ProtocolViolation
from jumpoint.core.hostkeys import CERTIFICATE_ALGORITHM, certificate_host_key


def blob(algorithm: str = "ssh-ed25519", seed: int = 1) -> str:
    name = algorithm.encode()
    return base64.b64encode(struct.pack(">I", len(name)) + name + struct.pack(">I", 32) + bytes([seed]) * 32).decode()


def decode(message: dict[str, Any]) -> wire.ControlMessage:
    return wire.decode_control(json.dumps(message).encode())


def saved(**changes: Any) -> dict[str, Any]:
    return {"t": "hostkey_saved", "host": "web.lan", "port": 22, "algorithm": "ssh-ed25519", "key": blob()} | changes


def test_a_saved_key_round_trips_with_its_host_in_lower_case() -> None:
    msg = decode(saved(host="Web.LAN", port=2222))
    assert isinstance(msg, wire.HostKeySaved)
    assert (msg.host, msg.port, msg.host_key.algorithm) == ("web.lan", 2222, "ssh-ed25519")
    again = wire.decode_control(wire.encode_control(0, msg)[wire.HEADER.size :])
    assert again == msg


def test_a_certificate_travels_like_a_host_key() -> None:
    cert = certificate_host_key(bytes(range(32)))
    msg = wire.HostKeyAdded(host="10.0.0.9", port=3389, algorithm=cert.algorithm, key=cert.blob_b64)
    decoded = wire.decode_control(wire.encode_control(0, msg)[wire.HEADER.size :])
    assert isinstance(decoded, wire.HostKeyAdded) and decoded.host_key == cert
    assert decoded.algorithm == CERTIFICATE_ALGORITHM


@pytest.mark.parametrize(
    ("changes", "where", "says"),
    [
        ({"host": ""}, "hostkey_saved.host", "at least 1 character"),
        ({"host": "web lan"}, "hostkey_saved.host", "is not a plain host name"),
        ({"host": "*.lan"}, "hostkey_saved.host", "is not a plain host name"),
        ({"host": "[web]:22"}, "hostkey_saved.host", "is not a plain host name"),
        ({"host": "h" * 254}, "hostkey_saved.host", "at most 253 characters"),
        ({"port": 0}, "hostkey_saved.port", "greater than or equal to 1"),
        ({"port": 65536}, "hostkey_saved.port", "less than or equal to 65535"),
        ({"algorithm": "ssh rsa"}, "hostkey_saved", "is not a key algorithm name"),
        ({"algorithm": "ssh-rsa"}, "hostkey_saved", "the key data is not an ssh-rsa key"),
        ({"key": "not base64!"}, "hostkey_saved", "the key is not valid base64"),
        ({"key": "AAAA"}, "hostkey_saved", "the key is too short"),
        ({"key": "A" * (16 * 1024 + 4)}, "hostkey_saved.key", "at most 16384 characters"),
        ({"fingerprint": "SHA256:x"}, "hostkey_saved.fingerprint", "Extra inputs are not permitted"),
    ],
)
def test_a_malformed_saved_key_is_refused_saying_what_is_wrong(changes: dict[str, Any], where: str, says: str) -> None:
    with pytest.raises(ProtocolViolation) as refused:
        decode(saved(**changes))
    assert refused.value.message.startswith(f"malformed control message at {where}: ")
    assert says in refused.value.message


def test_a_removal_names_a_plain_host_and_a_port_and_optionally_one_fingerprint() -> None:
    msg = decode({"t": "hostkeys_removed", "host": "DB", "port": 22})
    assert isinstance(msg, wire.HostKeysRemoved) and (msg.host, msg.fingerprint) == ("db", None)
    with pytest.raises(ProtocolViolation, match=r"at hostkeys_removed\.host: .*not a plain host name"):
        decode({"t": "hostkeys_removed", "host": "a,b", "port": 22})
    with pytest.raises(ProtocolViolation, match=r"at hostkeys_removed\.fingerprint: .*at most 128 characters"):
        decode({"t": "hostkeys_removed", "host": "db", "port": 22, "fingerprint": "x" * 129})


def test_a_sync_with_a_bad_entry_is_refused_naming_the_entry() -> None:
    good = {"host": "a", "port": 22, "algorithm": "ssh-ed25519", "key": blob()}
    bad = good | {"key": blob("ssh-rsa")}
    with pytest.raises(ProtocolViolation, match=r"at hostkeys_sync\.keys\.1: Value error, the key data is not"):
        decode({"t": "hostkeys_sync", "keys": [good, bad]})
    with pytest.raises(ProtocolViolation, match=r"at hostkeys_sync\.keys: .*at most 1000 items"):
        decode({"t": "hostkeys_sync", "keys": [good] * 1001})


def test_a_large_sync_is_cut_into_parts_every_one_but_the_last_saying_more() -> None:
    entries = [
        wire.HostKeyEntry(host=f"host-{n}.lan", port=22, algorithm="ssh-ed25519", key=blob(seed=n % 250))
        for n in range(1500)
    ]
    frames = wire.encode_host_key_sync(entries)
    assert len(frames) > 1 and all(len(f) <= wire.MAX_FRAME for f in frames)
    parts = [wire.decode_control(f[wire.HEADER.size :]) for f in frames]
    assert all(isinstance(p, wire.HostKeysSync) for p in parts)
    assert [p.more for p in parts] == [True] * (len(parts) - 1) + [False]  # type: ignore[union-attr]
    assert [k for p in parts for k in p.keys] == entries  # type: ignore[union-attr]
    [empty] = wire.encode_host_key_sync([])
    assert wire.decode_control(empty[wire.HEADER.size :]) == wire.HostKeysSync(keys=[])


def test_the_console_takes_a_saved_key_from_a_member_and_refuses_the_consoles_own_messages() -> None:
    got: list[wire.HostKeySaved] = []
    ws: Any = SimpleNamespace(closed=False)
    link = JumpointLink(1, "LAN-A", "jp-a", ws, member_id=3, on_host_key_saved=lambda _link, msg: got.append(msg))
    msg = decode(saved())
    assert isinstance(msg, wire.HostKeySaved)
    link._on_tunnel_control(msg)
    assert got == [msg]
    with pytest.raises(ProtocolViolation, match="unexpected 'hostkeys_sync' on the tunnel channel"):
        link._on_tunnel_control(wire.HostKeysSync(keys=[]))
