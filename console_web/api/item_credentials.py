"""Credential injection rules for Jump Items, and ``GET /jump-items/{id}/credentials`` (the Jump dialog's list).

The rules, in one place:

* Only an administrator may give an item a credential (``credential_ref``, injected without asking) or
  credential scopes (what a rep may pick at Jump time), or give a group scopes.
* A credential is injected only into a target an administrator set (``target_by_admin``): when a rep changes
  an item's host, port, protocol, Jumpoint, group or user name, or for RDP its domain, security or "Ignore
  Untrusted Certificate", or for Telnet its login prompt, password prompt or login failure pattern, the item stops
  injecting until an administrator saves it again. Otherwise a rep could point an item at a machine of their own
  (or let one answer in its place) and read the secret there, or have the password typed where it is echoed.
* A rep may pick only a credential one of the item's or its group's scopes allows; the console checks the
  choice, and the Jumpoint lists only what the scopes allow. Names and kinds reach the browser, never secrets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from console_web.api.access import get_item
from console_web.api.bodies import json_model, path_int, read_query
from console_web.api.context import db_of, principal_of
from console_web.api.hubapi import hub_of
from console_web.api.routing import endpoint
from console_web.api.schemas import (
    Body,
    CredentialChoiceOut,
    CredentialChoices,
    CredentialStoreProblem,
    JumpItemCreate,
    JumpItemUpdate,
)
from console_web.auth.principal import Principal
from console_web.db.models import JumpGroup, JumpItem
from jumpoint.core.credentials import LIST_LIMIT, scope_allows
from jumpoint.core.errors import Forbidden

CREDENTIAL_FIELDS = frozenset({"credential_ref", "credential_scopes"})
# Where a credential goes, and whether the machine that receives it is authenticated: the RDP domain (it names the
# authority that checks the password), the RDP security (classic RDP security does not authenticate the server)
# and ignoring an untrusted certificate (anyone on the path could answer) count as the target too. So do the account
# the secret is typed for and, for Telnet, the patterns that decide where in the login dialogue it is typed: a
# password prompt pattern that matches the echoed login prompt would show the password to everyone in the session.
TARGET_FIELDS = frozenset(
    {
        "hostname",
        "port",
        "protocol",
        "jumpoint_id",
        "group_id",
        "domain",
        "rdp_security",
        "ignore_certificate",
        "username",
        "login_prompt",
        "password_prompt",
        "login_failure",
    }
)
NOT_APPROVED = (
    "this Jump Item's target was last changed by a rep, so no credential is injected into it",
    "ask an administrator to review the item and save it",
)


def check_credential_fields(principal: Principal, body: JumpItemCreate | JumpItemUpdate) -> None:
    """Forbidden unless an administrator sets the item's credential or scopes."""
    given = body.model_fields_set & CREDENTIAL_FIELDS
    if given and not principal.is_admin:
        raise Forbidden(
            f"only an administrator may set {' and '.join(sorted(given))} on a Jump Item",
            hint="leave the credential fields out; an administrator assigns credentials",
        )


def target_approval(principal: Principal, changed: Iterable[str], current: bool) -> bool:
    """Whether the item's target counts as set by an administrator after ``changed`` fields were saved.

    For a rep, ``changed`` holds only the fields whose value really changed (saving the same host again keeps the
    approval); for an administrator, every target field sent (saving the item approves its target)."""
    if not TARGET_FIELDS & set(changed):
        return current
    return principal.is_admin


def allowed_scopes(item: JumpItem, group: JumpGroup | None) -> list[str]:
    """The item's scopes and its group's."""
    return list(item.credential_scopes or []) + list(group.credential_scopes if group is not None else [])


def credential_for_jump(item: JumpItem, group: JumpGroup | None, chosen: str | None) -> str | None:
    """The credential reference a Jump injects (the item's own, or the rep's allowed choice); None for none."""
    if chosen is not None:
        if item.credential_ref is not None:
            raise Forbidden(
                f"Jump Item {item.name!r} injects its own credential; another cannot be chosen",
                hint="Jump without choosing a credential",
            )
        if not any(scope_allows(scope, chosen) for scope in allowed_scopes(item, group)):
            raise Forbidden(
                f"credential {chosen!r} is not offered for Jump Item {item.name!r}",
                hint="pick one from the item's credential list",
            )
    ref = chosen or item.credential_ref
    if ref is not None and not item.target_by_admin:
        raise Forbidden(NOT_APPROVED[0], hint=NOT_APPROVED[1])
    return ref


class CredentialListQuery(Body):
    """``search`` filters references (case-insensitive substring)."""

    search: Annotated[str, Field(max_length=256)] = ""


@endpoint(
    "GET",
    "/jump-items/{id}/credentials",
    access="user",
    summary="The credentials a rep may inject into a Jump Item",
    tag="jump-items",
    query=CredentialListQuery,
    response=CredentialChoices,
    description=f"Asks the item's Jumpoint, which lists its stores; at most {LIST_LIMIT} names, never a secret. "
    "503 jumpoint_unavailable when the Jumpoint is not connected.",
)
async def list_item_credentials(request: web.Request) -> web.StreamResponse:
    """The item's own credential, or the credentials its scopes allow that match the search."""
    principal = principal_of(request)
    query = read_query(request, CredentialListQuery)
    async with db_of(request).session() as session:
        item = await get_item(session, principal, path_int(request, "id"))
        group = await session.get(JumpGroup, item.group_id)
        scopes = allowed_scopes(item, group)
    if item.credential_ref is not None or not scopes:
        return json_model(CredentialChoices(fixed=item.credential_ref, credentials=[], truncated=False))
    if not item.target_by_admin:
        problem = CredentialStoreProblem(store="*", code="forbidden", message=f"{NOT_APPROVED[0]}; {NOT_APPROVED[1]}")
        return json_model(CredentialChoices(fixed=None, credentials=[], truncated=False, problems=[problem]))
    args: dict[str, Any] = {
        "scopes": scopes,
        "item": item.name,
        "user": principal.username,
        "search": query.search,
        "limit": LIST_LIMIT + 1,
    }
    entries = await hub_of(request).jumpoint_request(item.jumpoint_id, "credentials.list", args)
    return json_model(_choices(entries if isinstance(entries, list) else [], scopes))


def _choices(entries: list[Any], scopes: list[str]) -> CredentialChoices:
    credentials: list[CredentialChoiceOut] = []
    problems: list[CredentialStoreProblem] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if "error" in entry and isinstance(entry["error"], dict):
            error = entry["error"]
            problems.append(
                CredentialStoreProblem(
                    store=str(entry.get("store", ""))[:64],
                    code=str(error.get("code", "internal"))[:64],
                    message=str(error.get("message", ""))[:2000],
                )
            )
        elif isinstance(entry.get("ref"), str) and any(scope_allows(s, entry["ref"]) for s in scopes):
            kind = entry.get("kind")
            choice = CredentialChoiceOut.model_validate({"ref": entry["ref"], "kind": kind})
            credentials.append(choice)
    return CredentialChoices(
        fixed=None, credentials=credentials[:LIST_LIMIT], truncated=len(credentials) > LIST_LIMIT, problems=problems
    )
