"""Authentication: passwords, login sessions, API tokens, CSRF and Origin checks, and the API middleware.

The session hub uses :func:`authenticate` and :func:`check_origin` (from ``console_web.auth.request_auth``).
"""
