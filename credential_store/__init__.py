"""Credential providers: where a Jumpoint fetches the secrets a Jump Item names.

``base`` holds the provider interface; ``local`` is the built-in encrypted file store. Providers are found
through the ``openjump.credential_providers`` entry point and import only ``jumpoint.core``.
"""
