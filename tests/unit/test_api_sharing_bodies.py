"""Malformed sharing requests (invitations, external keys, joins) are refused with a message naming the field."""

from __future__ import annotations

from typing import Any

import pytest

Console = Any


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "give exactly one of user_id or group_id"),
        ({"user_id": 2, "group_id": 3}, "give exactly one of user_id or group_id"),
        ({"user_id": 0}, "user_id: Input should be greater than or equal to 1"),
        ({"user_id": "bob"}, "user_id: Input should be a valid integer"),
        ({"user_id": 2, "mode": "owner"}, "mode: unknown field"),
    ],
)
async def test_an_invitation_names_exactly_one_rep_or_group(
    console: Console, body: dict[str, Any], message: str
) -> None:
    headers = {"X-CSRF-Token": await console.login_as("alice")}
    resp = await console.client.post("/api/v1/sessions/s1/invitations", json=body, headers=headers)
    assert resp.status == 400
    assert message in (await resp.json())["error"]["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"description": "", "expires_minutes": 10}, "description: String should have at least 1 character"),
        ({"description": "x" * 257}, "description: String should have at most 256 characters"),
        (
            {"description": "vendor", "expires_minutes": 0},
            "expires_minutes: Input should be greater than or equal to 1",
        ),
        ({"description": "vendor", "expires_minutes": 1441}, "expires_minutes: Input should be less than or equal"),
        ({"description": "vendor", "mode": "owner"}, "mode: Input should be 'observer' or 'peer'"),
    ],
)
async def test_an_external_key_request_is_bounded(console: Console, body: dict[str, Any], message: str) -> None:
    headers = {"X-CSRF-Token": await console.login_as("alice")}
    resp = await console.client.post("/api/v1/sessions/s1/external-keys", json=body, headers=headers)
    assert resp.status == 400
    assert message in (await resp.json())["error"]["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"key": "k" * 8}, "display_name: Field required"),
        ({"key": "k" * 8, "display_name": "   "}, "display_name: cannot be blank"),
        ({"key": "short", "display_name": "Vera"}, "key: String should have at least 8 characters"),
        ({"key": "k" * 8, "display_name": "x" * 65}, "display_name: String should have at most 64 characters"),
        ({"display_name": "Vera"}, "key: Field required"),
    ],
)
async def test_a_join_without_a_usable_key_or_name_is_refused(
    console: Console, body: dict[str, Any], message: str
) -> None:
    resp = await console.client.post("/api/v1/join", json=body)
    assert resp.status == 400
    assert message in (await resp.json())["error"]["message"]


@pytest.mark.parametrize(
    "name",
    [
        "Vera\nadmin joined the session (owner)",  # a forged second line in the timeline and the logs
        "Vera\x1b[2J",  # a terminal escape for whoever reads the log in a terminal
        "Vera\tVendor",
        "Vera\x7f",
        "Ve\u0085ra",
        "\u202eVera",  # right-to-left override: the text after it reads backwards
        "Vera \u2066admin\u2069",  # an isolate
    ],
)
async def test_a_guest_name_with_control_characters_or_bidi_overrides_is_refused(console: Console, name: str) -> None:
    resp = await console.client.post("/api/v1/join", json={"key": "k" * 8, "display_name": name})
    assert resp.status == 400
    assert (await resp.json())["error"]["message"] == (
        "display_name: a name cannot contain control characters or bidirectional text overrides"
    )
