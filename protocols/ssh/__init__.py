"""SSH Shell Jump: an interactive shell on a PTY over asyncssh, as a unified terminal session."""

from protocols.ssh.adapter import SshAdapter
from protocols.ssh.connection import SshConnection

__all__ = ["SshAdapter", "SshConnection"]
