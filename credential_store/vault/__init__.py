"""HashiCorp Vault as a credential store (entry point ``vault``: ``credential_store.vault:VaultCredentialStore``).

Configure it in the Jumpoint's YAML under ``credential_stores`` (see ``docs/vault.md``)::

    credential_stores:
      vault:
        type: vault
        url: https://vault.example.net:8200
        auth:
          method: approle
          role_id_file: /etc/jumpoint/vault-role-id
          secret_id_file: /etc/jumpoint/vault-secret-id
        kv_mounts: {secret: 2}

Paths inside the store (the part of a reference after ``vault:``):

* ``<kv mount>/<secret path>[?version=N&username=F&password=F&private_key=F&passphrase=F&certificate=F&domain=F]``
  a KV secret (``version`` pins a KV v2 version; the others name the secret's fields for this reference);
* ``<kv mount>/<folder>/`` a folder, for listing only (recursive, never reads a secret);
* ``ssh:<ssh mount>/<role>`` the SSH secrets engine: each fetch signs a fresh Ed25519 key for the login's user.

Modules: ``settings`` (validation), ``paths`` (grammar), ``auth`` (token / AppRole / Kubernetes login),
``session`` (token renewal, re-login, retry), ``transport`` (hvac calls off the event loop, bounded),
``errors`` (hvac and requests exceptions to the core's errors), ``kv``, ``ssh_sign``, ``provider``.
"""

from credential_store.vault.provider import VaultCredentialStore

__all__ = ["VaultCredentialStore"]
