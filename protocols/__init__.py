"""Protocol adapters: one package per protocol, each registered under the ``openjump.protocols`` entry point.

An adapter imports only ``jumpoint.core`` (and ``credential_store.base``); it never imports the agent, the
console or another protocol.
"""
