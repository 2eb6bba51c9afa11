"""The adapters' error builders: shared wording, and what each adapter's OS-error mapping adds."""

from __future__ import annotations

import errno

from jumpoint.core import target_errors
from jumpoint.core.errors import TargetAuthFailed, TargetClosed, TargetTimeout, TargetUnreachable
from protocols.ssh import errors as ssh_errors
from protocols.telnet import errors as telnet_errors

WHERE = "10.0.0.5:23"


def test_a_refused_connection_names_the_kind_of_server() -> None:
    for module, kind in ((ssh_errors, "SSH"), (telnet_errors, "Telnet")):
        err = module.from_os_error(WHERE, ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
        assert isinstance(err, TargetUnreachable)
        assert err.message == (
            f"cannot connect to {WHERE}: connection refused (no {kind} server on that port, or a firewall rejects it)"
        )


def test_timeouts_name_their_stage() -> None:
    assert ssh_errors.from_os_error(WHERE, TimeoutError()).message == f"{WHERE} did not answer in time (TCP connect)"
    assert telnet_errors.from_os_error(WHERE, TimeoutError()).message == f"{WHERE} did not answer in time (TCP)"


def test_a_reset_is_a_closed_connection_for_telnet_and_unreachable_for_ssh_as_before() -> None:
    reset = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
    assert isinstance(telnet_errors.from_os_error(WHERE, reset), TargetClosed)
    assert isinstance(ssh_errors.from_os_error(WHERE, reset), TargetUnreachable)


def test_a_reset_of_an_established_ssh_connection_says_the_target_closed_it_not_check_the_host_name() -> None:
    reset = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
    error = ssh_errors.from_ssh_error(WHERE, "ann", reset, established=True)
    assert isinstance(error, TargetClosed)
    assert error.message == f"the connection to {WHERE} was closed: reset by the server or the network"
    assert "host name" not in (error.hint or "")


def test_the_login_refusals_keep_each_adapters_wording() -> None:
    ssh = ssh_errors.auth_failed(WHERE, "ann")
    assert isinstance(ssh, TargetAuthFailed)
    assert ssh.message == f"the target refused the login for user ann on {WHERE}"
    telnet = telnet_errors.auth_failed(WHERE, "", "Login incorrect")
    assert telnet.message == f"the target refused the login for the password on {WHERE}: Login incorrect"
    assert "Telnet" in (telnet.hint or "")
    assert isinstance(target_errors.closed(WHERE, "gone"), TargetClosed)
    assert (
        target_errors.timed_out(WHERE, 5, "SSH handshake").message == f"{WHERE} did not answer in 5 s (SSH handshake)"
    )
    assert isinstance(target_errors.timed_out(WHERE, None, "TCP"), TargetTimeout)
