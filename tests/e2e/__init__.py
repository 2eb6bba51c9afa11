"""End-to-end tests: a real browser on a real console Jumping to a real sshd."""
