"""What a password prompt looks like at the end of terminal output, for not recording hidden input.

One definition for every guesser: the console's :mod:`console_web.hub.echo_guess` (SSH tells it nothing about the
remote PTY's echo) and the Telnet adapter's echo tracker (which must know at least as much as the console's guess,
since the console stops guessing once the adapter reports echo itself).
"""

from __future__ import annotations

import re

PASSWORD_PROMPT = re.compile(
    rb"(?i)(password|passphrase|passcode|\bpin\b|verification code|one-time code)[^\n]{0,80}:\s*$"
)
"""Matches the last output line when it is a password prompt ("Password:", "[sudo] password for ann:",
"Enter passphrase for key ...:", "PIN:"); search it in the line's last :data:`PROMPT_TAIL` bytes, CR stripped."""

PROMPT_TAIL = 256
"""How many bytes of the last output line are kept for :data:`PASSWORD_PROMPT`."""
