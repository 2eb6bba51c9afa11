"""The web console: people, Jump Groups and Items, the session hub, the REST API and the rep console pages."""
