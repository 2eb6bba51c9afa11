"""A Jump Group's recording policy overrides its items' own setting, through the whole gateway (real sshd)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.gateway import Gateway
from tests.fixtures.sshd import SshServer


async def _recorded(gateway: Gateway, ssh: SshServer, group_policy: str, item_records: bool) -> dict[str, Any]:
    group = await gateway.api("POST", "/api/v1/jump-groups", {"name": f"g-{group_policy}-{item_records}"}, expect=201)
    await gateway.api("PATCH", f"/api/v1/jump-groups/{group['id']}", {"recording": group_policy}, expect=200)
    item = await gateway.api(
        "POST",
        "/api/v1/jump-items",
        {
            "name": "policy box",
            "group_id": group["id"],
            "jumpoint_id": gateway.jumpoint_id,
            "hostname": f"{ssh.host}:{ssh.port}",
            "username": ssh.username,
            "record_session": item_records,
        },
        expect=201,
    )
    sock = await gateway.jump(item["id"])
    await sock.login(ssh.password)
    await sock.send_keys("echo POLICY-$((6*7))\n")
    await sock.read_until(b"POLICY-42")
    await gateway.api("POST", f"/api/v1/sessions/{sock.session_id}/end", expect=204)
    await sock.close()
    report: dict[str, Any] = await gateway.api("GET", f"/api/v1/session-history/{sock.session_id}", expect=200)
    return report


@pytest.mark.parametrize(
    ("group_policy", "item_records", "recorded"),
    [("per_item", True, True), ("per_item", False, False), ("always", False, True), ("never", True, False)],
)
async def test_the_group_policy_decides_whether_a_session_is_recorded(
    gateway: Gateway, sshd_server: SshServer, group_policy: str, item_records: bool, recorded: bool
) -> None:
    report = await _recorded(gateway, sshd_server, group_policy, item_records)
    assert report["recording"]["available"] is recorded
    assert report["session"]["recorded"] is recorded
