"""The session hub: connected Jumpoints, live sessions, and the browser sockets that watch and drive them."""
