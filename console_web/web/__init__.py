"""The web rep console's pages and static files (see :mod:`console_web.web.pages`)."""

from console_web.web.pages import setup_pages

__all__ = ["setup_pages"]
