"""Credential references and scopes: what a Jump Item may name, and which credentials a scope allows."""

from __future__ import annotations

import pytest

from jumpoint.core.credentials import check_ref, scope_allows, split_ref
from jumpoint.core.errors import BadRequest


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("vault:secret/linux/root", ("vault", "secret/linux/root")),
        ("local:db", ("local", "db")),
        ("db-admin", ("local", "db-admin")),
        ("Web Admin: prod", ("local", "Web Admin: prod")),
        ("vault:ssh:signer/ops", ("vault", "ssh:signer/ops")),
    ],
)
def test_a_reference_names_its_store_or_the_local_one(ref: str, expected: tuple[str, str]) -> None:
    assert split_ref(ref) == expected


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("", "1 to 512"),
        ("x" * 513, "1 to 512"),
        (" vault:a", "surrounding spaces"),
        ("vault:a\nb", "control characters"),
        ("vault:", "no credential"),
        ("vault:secret/../other", "'..'"),
        ("vault:secret/linux/", "folder"),
        ("vault:*", "every credential"),
    ],
)
def test_a_malformed_reference_is_refused_with_the_reason(ref: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        check_ref(ref)


def test_a_scope_may_be_a_folder_or_a_whole_store_but_a_folder_takes_no_options() -> None:
    assert check_ref("vault:secret/linux/", scope=True) == "vault:secret/linux/"
    assert check_ref("local:*", scope=True) == "local:*"
    with pytest.raises(BadRequest, match="cannot carry options"):
        check_ref("vault:secret/linux/?password=pw", scope=True)


@pytest.mark.parametrize(
    ("scope", "ref", "allowed"),
    [
        ("vault:secret/linux/", "vault:secret/linux/web01", True),
        ("vault:secret/linux/", "vault:secret/linux/deep/db01", True),
        ("vault:secret/linux/", "vault:secret/linuxish", False),
        ("vault:secret/linux/", "vault:secret/linux/", False),
        ("vault:secret/linux/", "other:secret/linux/web01", False),
        ("vault:secret/a?password=pw", "vault:secret/a?password=pw", True),
        ("vault:secret/a?password=pw", "vault:secret/a", False),
        ("local:*", "db-admin", True),
        ("local:*", "vault:x", False),
        ("db-admin", "local:db-admin", True),
    ],
)
def test_a_scope_allows_exactly_its_credentials(scope: str, ref: str, allowed: bool) -> None:
    assert scope_allows(scope, ref) is allowed
