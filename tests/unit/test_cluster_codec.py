"""What crosses between console nodes as JSON (``console_web/cluster/codec.py``): principals, Jumps, sessions,
Jumpoint states and guests come out of the other node as they went in, and what does not fit is refused with
ProtocolViolation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from console_web.auth.guests import Guest
from console_web.auth.principal import Principal
from console_web.cluster import codec
from console_web.hub.clusters import JumpointLive, MemberLive
from console_web.hub.jump import JumpRequest, SessionInfo
from jumpoint.core.adapter import Target
from jumpoint.core.errors import ProtocolViolation

SINCE = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def _wire(data: Any) -> Any:
    """What the other node gets: the JSON text, parsed again."""
    return json.loads(json.dumps(data))


def _member(member_id: int, hostname: str, *, sessions: int = 0, since: datetime = SINCE) -> MemberLive:
    return MemberLive(member_id, hostname, since, sessions, True)


# --- principals ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "principal",
    [
        Principal(7, "ann", "Ann Example", False, "session", "web-session-1"),
        Principal(1, "admin", "Administrator", True, "token"),
        Principal(7, "ann", "Ann Example", False, "token", None, "192.0.2.7"),
    ],
)
def test_a_principal_comes_out_of_the_other_node_as_it_went_in(principal: Principal) -> None:
    assert codec.principal_from(_wire(codec.principal_to(principal))) == principal


@pytest.mark.parametrize(
    "data",
    [
        None,
        [7, "ann"],
        "ann",
        {"user_id": 7, "username": "ann", "display_name": "Ann", "is_admin": False},  # no "via"
        {"user_id": 7, "username": "ann", "display_name": "Ann", "is_admin": False, "via": "session", "role": "x"},
        {"user_id": "7", "username": "ann", "display_name": "Ann", "is_admin": False, "via": "session"},
        {"user_id": 7, "username": "ann", "display_name": "Ann", "is_admin": False, "via": "cookie"},
        {"user_id": 7, "username": "ann", "display_name": "Ann", "is_admin": False, "via": "token", "address": 7},
        {"user_id": 7, "username": "a", "display_name": "A", "is_admin": False, "via": "token", "address": "9" * 65},
    ],
)
def test_a_malformed_principal_is_refused(data: Any) -> None:
    with pytest.raises(ProtocolViolation, match="another console node sent a"):
        codec.principal_from(data)


# --- Jumps -----------------------------------------------------------------------------------------
def _jump(**target: Any) -> JumpRequest:
    return JumpRequest(
        item_id=12,
        item_name="web server",
        jumpoint_id=3,
        target=Target(protocol="ssh", hostname="10.0.0.5", port=22, username="root", **target),
        session_policy="join_existing",
        record_session=False,
        record_input=True,
    )


def test_a_jump_comes_out_of_the_other_node_with_its_target() -> None:
    jump = _jump(cols=132, rows=43, credential_ref="local:web", login_prompt="login:")
    back = codec.jump_from(_wire(codec.jump_to(jump)))
    assert back == jump
    assert isinstance(back.target, Target)
    assert back.target.cols == 132 and back.target.credential_ref == "local:web"


def test_a_desktop_jump_keeps_its_desktop_settings() -> None:
    target = Target(
        protocol="rdp",
        hostname="win.example.net",
        port=3389,
        domain="CORP",
        desktop_width=1600,
        desktop_height=900,
        ignore_certificate=True,
    )
    jump = JumpRequest(1, "desktop", 2, target)
    back = codec.jump_from(_wire(codec.jump_to(jump)))
    assert back == jump and back.target.kind == "desktop"


@pytest.mark.parametrize(
    "change",
    [
        {"target": None},
        {"target": "ssh://10.0.0.5"},
        {"target": {"protocol": "ssh", "hostname": "10.0.0.5", "port": 0}},
        {"target": {"protocol": "gopher", "hostname": "10.0.0.5", "port": 70}},
        {"target": {"protocol": "ssh", "hostname": "10.0.0.5", "port": 22, "shell": "/bin/sh"}},
    ],
)
def test_a_jump_whose_target_does_not_validate_is_refused(change: dict[str, Any]) -> None:
    data = {**codec.jump_to(_jump()), **change}
    with pytest.raises(ProtocolViolation, match="another console node sent an invalid Jump target"):
        codec.jump_from(data)


@pytest.mark.parametrize("drop", ["item_id", "item_name", "jumpoint_id"])
def test_a_jump_missing_a_field_is_refused(drop: str) -> None:
    data = codec.jump_to(_jump())
    del data[drop]
    with pytest.raises(ProtocolViolation, match=rf"another console node sent a malformed Jump: .*{drop}"):
        codec.jump_from(data)


def test_a_jump_with_an_unknown_field_is_refused() -> None:
    data = {**codec.jump_to(_jump()), "priority": "high"}
    with pytest.raises(ProtocolViolation, match=r"another console node sent a malformed Jump: .*priority"):
        codec.jump_from(data)


@pytest.mark.parametrize("data", [None, [], "jump", 12])
def test_a_jump_that_is_not_an_object_is_refused(data: Any) -> None:
    with pytest.raises(ProtocolViolation, match="another console node sent a Jump that is not an object"):
        codec.jump_from(data)


# --- sessions --------------------------------------------------------------------------------------
def test_a_session_listing_comes_out_of_the_other_node_as_it_went_in() -> None:
    info = SessionInfo(
        session_id="nodea_5f2c",
        item_id=12,
        item_name="web server",
        owner_user_id=7,
        jumpoint_id=3,
        protocol="ssh",
        state="active",
        started_at="2025-03-04T05:06:07+00:00",
        participants=[{"user_id": 7, "display_name": "Ann", "mode": "owner"}, {"guest": True, "mode": "view"}],
        joined=True,
    )
    assert codec.session_from(_wire(codec.session_to(info))) == info


def test_a_session_listing_without_participants_gets_an_empty_list() -> None:
    info = SessionInfo("nodea_1", 1, "box", 7, 3, "telnet", "starting", "2025-03-04T05:06:07+00:00")
    data = codec.session_to(info)
    del data["participants"], data["joined"]
    assert codec.session_from(_wire(data)) == info


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "a session that is not an object"),
        (["nodea_1"], "a session that is not an object"),
        ({"session_id": "nodea_1"}, "a malformed session"),
        ({"session_id": "nodea_1", "item_id": 1, "surprise": True}, "a malformed session"),
    ],
)
def test_a_malformed_session_listing_is_refused(data: Any, message: str) -> None:
    with pytest.raises(ProtocolViolation, match=f"another console node sent {message}"):
        codec.session_from(data)


# --- Jumpoint states -------------------------------------------------------------------------------
def test_jumpoint_states_come_out_of_the_other_node_with_their_members_and_times() -> None:
    live = {
        3: JumpointLive(
            True,
            {
                1: _member(1, "jp-a", sessions=2),
                2: _member(2, "jp-b", since=datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))),
            },
        ),
        4: JumpointLive(False, {}),
    }
    back = codec.jumpoints_from(_wire(codec.jumpoints_to(live)))
    assert back == live
    assert back[3].members[2].connected_since.utcoffset() == timedelta(hours=-5)
    assert all(isinstance(key, int) for key in back) and all(isinstance(key, int) for key in back[3].members)


def test_no_jumpoint_states_are_an_empty_object() -> None:
    assert codec.jumpoints_to({}) == {}
    assert codec.jumpoints_from({}) == {}


def _states(**member_change: Any) -> dict[str, Any]:
    data = codec.jumpoints_to({3: JumpointLive(True, {1: _member(1, "jp-a")})})
    data["3"]["members"]["1"].update(member_change)
    return data


@pytest.mark.parametrize(
    "data",
    [
        {"three": {"connected": True, "members": {}}},  # not a Jumpoint id
        {"3": {"members": {}}},  # no "connected"
        {"3": {"connected": True}},  # no "members"
        {"3": None},
        {"3": ["connected"]},
        {"3": {"connected": True, "members": []}},
        {"3": {"connected": True, "members": {"one": {}}}},
        {"3": {"connected": True, "members": {"1": "jp-a"}}},
        _states(connected_since="yesterday"),
        _states(connected_since=1741064767),
        _states(surprise=1),
    ],
)
def test_malformed_jumpoint_states_are_refused(data: Any) -> None:
    with pytest.raises(ProtocolViolation, match="another console node sent malformed Jumpoint states"):
        codec.jumpoints_from(data)


def test_a_member_without_its_connection_time_is_refused() -> None:
    data = _states()
    del data["3"]["members"]["1"]["connected_since"]
    with pytest.raises(ProtocolViolation, match="connected_since"):
        codec.jumpoints_from(data)


@pytest.mark.parametrize("data", [None, [], "states"])
def test_jumpoint_states_that_are_not_an_object_are_refused(data: Any) -> None:
    with pytest.raises(ProtocolViolation, match="Jumpoint states that are not an object"):
        codec.jumpoints_from(data)


def test_merged_jumpoint_states_are_connected_when_any_node_has_them_connected() -> None:
    node_a = {3: JumpointLive(False, {}), 4: JumpointLive(True, {1: _member(1, "jp-a")})}
    node_b = {3: JumpointLive(True, {2: _member(2, "jp-b")}), 4: JumpointLive(False, {})}
    merged = codec.merge_jumpoints([node_a, node_b])
    assert merged[3].connected and merged[4].connected
    assert merged[3].members == {2: _member(2, "jp-b")}
    assert merged[4].members == {1: _member(1, "jp-a")}


def test_merged_jumpoint_states_hold_the_members_of_every_node() -> None:
    parts = [
        {3: JumpointLive(True, {1: _member(1, "jp-a", sessions=4)})},
        {3: JumpointLive(False, {2: _member(2, "jp-b")}), 5: JumpointLive(False, {})},
        {3: JumpointLive(False, {7: _member(7, "jp-c")})},
    ]
    merged = codec.merge_jumpoints(parts)
    assert merged == {
        3: JumpointLive(True, {1: _member(1, "jp-a", sessions=4), 2: _member(2, "jp-b"), 7: _member(7, "jp-c")}),
        5: JumpointLive(False, {}),
    }
    assert parts[0][3].members == {1: _member(1, "jp-a", sessions=4)}  # the parts themselves are left as they were


def test_merging_nothing_gives_nothing_and_one_part_gives_itself() -> None:
    assert codec.merge_jumpoints([]) == {}
    alone = {3: JumpointLive(True, {1: _member(1, "jp-a")})}
    assert codec.merge_jumpoints([alone]) == alone


# --- guests ----------------------------------------------------------------------------------------
def test_a_guest_comes_out_of_the_other_node_as_it_went_in() -> None:
    guest = Guest("a1b2c3d4e5f60718", "Vendor Support", "nodea_5f2c", "view")
    assert codec.guest_from(_wire(codec.guest_to(guest))) == guest


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "a guest that is not an object"),
        ("guest", "a guest that is not an object"),
        ({"guest_id": "g1", "display_name": "V", "session_id": "nodea_1"}, "a malformed guest"),
        ({"guest_id": "g", "display_name": "V", "session_id": "s", "mode": "view", "admin": 1}, "a malformed guest"),
    ],
)
def test_a_malformed_guest_is_refused(data: Any, message: str) -> None:
    with pytest.raises(ProtocolViolation, match=f"another console node sent {message}"):
        codec.guest_from(data)
