"""Secrets never print; errors say who failed and survive the wire."""

from __future__ import annotations

import logging
import pickle

import pytest

from jumpoint.core.errors import HostKeyMismatch, InternalError, JumpError, NotFound
from jumpoint.core.secret import Secret


def test_secret_never_appears_in_repr_str_format_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret("hunter2")
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("password is %s / %r / %s", secret, secret, f"{secret}")
    assert "hunter2" not in caplog.text
    assert secret.reveal() == "hunter2"


def test_secret_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret("x"))


def test_error_round_trips_with_its_culprit_and_hint() -> None:
    err = HostKeyMismatch("key changed", hint="verify with the owner", details={"old": "SHA256:a"})
    back = JumpError.from_dict(err.to_dict())
    assert isinstance(back, HostKeyMismatch)
    assert (back.who, back.message, back.hint, back.details) == (
        "target",
        "key changed",
        "verify with the owner",
        {"old": "SHA256:a"},
    )
    assert NotFound("x").who == "user" and InternalError("x").who == "us"


def test_unknown_error_code_becomes_an_internal_error() -> None:
    assert isinstance(JumpError.from_dict({"code": "martian", "message": "?"}), InternalError)
