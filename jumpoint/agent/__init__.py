"""The Jumpoint agent: tunnel to the console, adapter runner, host-key cache and credential providers."""
