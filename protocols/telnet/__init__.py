"""Telnet Shell Jump: an interactive terminal over Telnet (RFC 854) with auto-login, as a unified terminal session.

The client is the project's own (``codec``: the byte stream; ``options``: negotiation; ``login``/``autologin``:
answering the login prompts; ``protocol``/``connection``: the asyncio side). Telnet is not encrypted.
"""

from protocols.telnet.adapter import TelnetAdapter
from protocols.telnet.connection import TelnetConnection

__all__ = ["TelnetAdapter", "TelnetConnection"]
