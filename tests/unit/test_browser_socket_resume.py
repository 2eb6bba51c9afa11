"""Where a reconnecting browser's socket resumes (``?pos=``): only plain ASCII digits in range count."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from console_web.hub.browser_socket import MAX_POSITION, resume_position


@pytest.mark.parametrize(
    ("query", "resumes_at"),
    [
        ("pos=0", 0),
        ("pos=4711", 4711),
        (f"pos={MAX_POSITION}", MAX_POSITION),
        (f"pos={MAX_POSITION + 1}", None),
        ("pos=%C2%B2", None),  # '²': a digit to str.isdigit, not to int()
        ("pos=%D9%A1", None),  # Arabic-Indic one
        ("pos=-1", None),
        ("pos=", None),
        ("", None),
    ],
)
def test_only_ascii_digits_in_range_resume_a_socket(query: str, resumes_at: int | None) -> None:
    request = make_mocked_request("GET", f"/api/v1/sessions/s/ws?{query}")
    assert resume_position(request) == resumes_at
