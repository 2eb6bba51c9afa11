"""The RDP test servers of ``tests/fixtures/rdp.py`` serve logins: FreeRDP's own client (``xfreerdp``, on an
``Xvfb`` of this module) is the reference. A right password reaches the session (and what is typed through the
client lands in the session's xterm, read back from the server's session directory); a wrong one is refused.

xrdp and the shadow server with TLS authenticate only after the connection is up (xrdp through sesman and PAM,
the shadow server through PAM), so ``xfreerdp +auth-only`` succeeds whatever the password there: those tests make a
full connection. With NLA, ``+auth-only`` is exact.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.rdp import (
    RDP_PASSWORD,
    RdpServer,
    ShadowServer,
    XrdpServer,
    probe_x224,
    start_rdp_shadow,
    start_xrdp,
    xrdp_tls,
)
from tests.fixtures.servers import require

__all__ = ["start_rdp_shadow", "start_xrdp", "xrdp_tls"]  # the fixtures, imported for pytest

WRONG_PASSWORD = "not-the-password"


class Client:
    """Runs ``xfreerdp`` on this module's Xvfb, with its own HOME (FreeRDP writes ``~/.config/freerdp``)."""

    def __init__(self, display: int, home: Path) -> None:
        self.env = os.environ | {"DISPLAY": f":{display}", "HOME": str(home)}
        self.log = home / "xfreerdp.log"

    def start(self, server: RdpServer, password: str, *extra: str) -> subprocess.Popen[bytes]:
        """Connect to ``server`` as its user (certificate not checked: the fixtures' own tests compare it)."""
        command = ["xfreerdp", f"/v:{server.host}:{server.port}", f"/u:{server.username}", f"/p:{password}"]
        command += ["/cert:ignore", "/size:1024x768", *extra]
        with self.log.open("ab") as log:
            return subprocess.Popen(command, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def run(self, server: RdpServer, password: str, *extra: str, timeout: float = 30) -> int:
        """Connect and wait for ``xfreerdp`` to end; its exit status."""
        proc = self.start(server, password, *extra)
        try:
            return proc.wait(timeout=timeout)
        finally:
            stop(proc)

    def type_into(self, server: RdpServer, text: str) -> None:
        """Give the client's window the focus and type ``text`` + Enter into it (sent to the server as keys)."""
        window = f"FreeRDP: {server.host}:{server.port}"
        for attempt in range(10):  # the window must be mapped before it can take the focus
            done = subprocess.run(
                ["xdotool", "search", "--sync", "--onlyvisible", "--name", window, "windowfocus", "--sync"],
                env=self.env,
                capture_output=True,
                timeout=20,
                check=False,
            )
            if done.returncode == 0:
                break
            if attempt == 9:
                raise RuntimeError(f"no xfreerdp window {window!r}: {done.stderr!r}")
            time.sleep(0.3)
        subprocess.run(["xdotool", "type", "--delay", "40", text], env=self.env, check=True, timeout=30)
        subprocess.run(["xdotool", "key", "Return"], env=self.env, check=True, timeout=10)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a client by PID."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """An Xvfb for ``xfreerdp`` (it needs a display even for ``+auth-only``), stopped by PID at the end."""
    require(next((f"{b} is not installed" for b in ("xfreerdp", "Xvfb", "xdotool") if not shutil.which(b)), None))
    with tempfile.TemporaryDirectory(prefix="oj-rdpclient-") as tmp:
        display = next(n for n in range(500 + os.getpid() % 100, 900) if not Path(f"/tmp/.X{n}-lock").exists())
        xvfb = subprocess.Popen(
            ["Xvfb", f":{display}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not Path(f"/tmp/.X11-unix/X{display}").exists():
                assert xvfb.poll() is None and time.monotonic() < deadline, "the client's Xvfb did not start"
                time.sleep(0.05)
            yield Client(display, Path(tmp))
        finally:
            stop(xvfb)


def tls_certificate_sha256(server: RdpServer, requested: int) -> bytes:
    """The SHA-256 of the certificate the server shows in the TLS handshake after X.224 negotiation."""
    assert probe_x224(server.host, server.port, requested) == requested
    neg_req = bytes((0x01, 0x00, 0x08, 0x00)) + requested.to_bytes(4, "little")
    x224 = bytes((6 + len(neg_req), 0xE0, 0, 0, 0, 0, 0)) + neg_req
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(bytes((3, 0)) + (len(x224) + 4).to_bytes(2, "big") + x224)
        answer = b""
        while len(answer) < 19:  # TPKT + X.224 CC + RDP_NEG_RSP
            chunk = sock.recv(19 - len(answer))
            assert chunk, "the server closed the connection"
            answer += chunk
        with context.wrap_socket(sock) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).digest()


def log_in_and_type(client: Client, server: RdpServer, *extra: str) -> None:
    """Log in with the right password, type a command into the session's xterm and read what it wrote."""
    word = uuid.uuid4().hex[:8]
    mark = server.log_mark() if isinstance(server, XrdpServer) else 0
    proc = client.start(server, RDP_PASSWORD, *extra)
    try:
        if isinstance(server, XrdpServer):
            server.wait_for_log(rf"login successful for user {server.username} on display \d+", since=mark, timeout=20)
            server.wait_session_ready()
        client.type_into(server, f"echo {word} > typed-{word}.txt")
        assert server.wait_for_file(f"typed-{word}.txt", timeout=15) == f"{word}\n"
        assert proc.poll() is None, "xfreerdp ended while logged in"
    finally:
        stop(proc)


def test_xrdp_with_tls_security_answers_the_x224_probe_with_tls_and_shows_its_certificate(
    xrdp_tls: XrdpServer,
) -> None:
    assert xrdp_tls.probe() == 1
    assert xrdp_tls.certificate_path is not None and xrdp_tls.certificate_sha256 is not None
    assert tls_certificate_sha256(xrdp_tls, 1) == xrdp_tls.certificate_sha256
    assert xrdp_tls.certificate_fingerprint == xrdp_tls.certificate_sha256.hex(":").upper()


def test_xrdp_with_tls_security_logs_in_the_right_password_and_keys_reach_the_session_xterm(
    client: Client, xrdp_tls: XrdpServer
) -> None:
    log_in_and_type(client, xrdp_tls, "/sec:tls")
    display = xrdp_tls.session_display()
    assert display is not None
    windows = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--class", "xterm"],
        env=xrdp_tls.session_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert windows.stdout.split(), "no xterm in the xrdp session"


def test_xrdp_with_tls_security_refuses_a_wrong_password(client: Client, xrdp_tls: XrdpServer) -> None:
    mark = xrdp_tls.log_mark()
    assert client.run(xrdp_tls, WRONG_PASSWORD, "/sec:tls") != 0
    xrdp_tls.wait_for_log(f"login failed for user {xrdp_tls.username}", since=mark)


def test_xrdp_with_classic_rdp_security_logs_in_the_right_password_and_refuses_a_wrong_one(
    client: Client, start_xrdp: Callable[..., XrdpServer]
) -> None:
    server = start_xrdp(security="rdp", crypt_level="fips")  # FreeRDP's salted MACs fail RC4 levels: see the fixture
    assert server.probe() == 0  # xrdp selects PROTOCOL_RDP even when asked only for TLS|HYBRID (no failure)
    assert server.certificate_path is None
    log_in_and_type(client, server, "/sec:rdp")
    mark = server.log_mark()
    assert client.run(server, WRONG_PASSWORD, "/sec:rdp") != 0
    server.wait_for_log(f"login failed for user {server.username}", since=mark)


def test_ending_xrdp_sessions_gives_the_next_login_a_new_session_and_stopping_leaves_nothing_behind(
    client: Client, start_xrdp: Callable[..., XrdpServer]
) -> None:
    server = start_xrdp(security="negotiate")
    uid = pwd.getpwnam(server.username).pw_uid
    log_in_and_type(client, server, "/sec:tls")
    first = server.session_display()
    assert server.namespace_pids(uid), "no session processes"
    server.end_sessions()
    assert not server.namespace_pids(uid)
    assert len(server.namespace_pids()) >= 2  # xrdp and sesman go on
    log_in_and_type(client, server, "/sec:tls")
    assert server.session_display() is not None
    assert server.log_text().count("Session started successfully") == 2
    processes = server.namespace_pids()
    assert len(processes) >= 5  # xrdp, sesman, the session's Xorg, startwm.sh, xterm ...
    server.stop()
    assert not [pid for pid in processes if Path(f"/proc/{pid}").exists()]
    assert not Path(f"/tmp/.X{first}-lock").exists()
    assert not Path(f"/tmp/.X{server.session_display()}-lock").exists()
    with pytest.raises(ConnectionRefusedError):
        probe_x224(server.host, server.port)


def test_shadow_server_with_nla_authenticates_the_right_password_only(
    client: Client, start_rdp_shadow: Callable[..., ShadowServer]
) -> None:
    server = start_rdp_shadow(security="nla")
    assert server.probe() == 2
    assert client.run(server, RDP_PASSWORD, "/sec:nla", "+auth-only") == 0
    assert client.run(server, WRONG_PASSWORD, "/sec:nla", "+auth-only") != 0


def test_shadow_server_with_nla_shows_its_desktop_and_takes_keys(
    client: Client, start_rdp_shadow: Callable[..., ShadowServer]
) -> None:
    server = start_rdp_shadow(security="nla", width=1024, height=768)
    assert tls_certificate_sha256(server, 2) == server.certificate_sha256
    assert server.x("xdotool", "getdisplaygeometry").split() == ["1024", "768"]
    log_in_and_type(client, server, "/sec:nla")


def test_shadow_server_with_tls_and_pam_logs_in_the_right_password_and_refuses_a_wrong_one(
    client: Client, start_rdp_shadow: Callable[..., ShadowServer]
) -> None:
    server = start_rdp_shadow(security="tls")
    assert server.probe() == 1
    assert tls_certificate_sha256(server, 1) == server.certificate_sha256
    log_in_and_type(client, server, "/sec:tls")
    assert client.run(server, WRONG_PASSWORD, "/sec:tls") != 0
    assert "pam_authenticate failure" in server.log_text()


def test_a_stopped_shadow_server_leaves_no_process_and_its_display_free(
    start_rdp_shadow: Callable[..., ShadowServer],
) -> None:
    server = start_rdp_shadow(security="tls")
    pids = [server.pid, *(helper.pid for helper in server._helpers)]
    server.stop()
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert not Path(f"/tmp/.X{server.display}-lock").exists()
    with pytest.raises(ConnectionRefusedError):
        probe_x224(server.host, server.port)
