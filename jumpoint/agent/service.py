"""Assemble a running Jumpoint: adapters, host-key cache, credential store and the tunnel client."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from credential_store.stores import DEFAULT_STORES, CredentialStores
from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.agent.metrics import JumpointMetrics, MeteredCredentialProvider
from jumpoint.agent.registry import load_adapters
from jumpoint.agent.tunnel import TunnelClient, TunnelSettings

KNOWN_HOSTS_FILE = "known_hosts"


def host_key_store(state_dir: Path) -> FileHostKeyStore:
    """The Jumpoint host's host-key cache in ``state_dir``."""
    return FileHostKeyStore(state_dir / KNOWN_HOSTS_FILE)


def build_credential_stores(
    blocks: Mapping[str, Mapping[str, Any]] | None, *, state_dir: Path, metrics: JumpointMetrics | None = None
) -> CredentialStores:
    """The configured stores (the local store alone when ``blocks`` is None), each timed and counted into
    ``metrics`` when given; raises ConfigError naming a bad store."""
    stores = CredentialStores.from_config(DEFAULT_STORES if blocks is None else blocks, state_dir=state_dir)
    if metrics is not None:
        stores.stores = {name: MeteredCredentialProvider(name, p, metrics) for name, p in stores.stores.items()}
    return stores


def build_tunnel_client(
    *,
    state_dir: Path,
    console_url: str,
    token: str,
    ssl_param: ssl.SSLContext | aiohttp.Fingerprint | bool,
    heartbeat_seconds: float = 15.0,
    reconnect_min_seconds: float = 1.0,
    reconnect_max_seconds: float = 60.0,
    max_sessions: int = 1000,
    prompt_timeout_seconds: float = 300.0,
    credential_stores: Mapping[str, Mapping[str, Any]] | None = None,
    metrics: JumpointMetrics | None = None,
    hostname: str | None = None,
) -> TunnelClient:
    """A tunnel client with every installed adapter, the host-key cache and the configured credential stores
    (the local store alone by default), counting into ``metrics`` (a fresh set when None), saying it is
    ``hostname`` (default: the system's host name); raises ConfigError naming a bad store."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings = TunnelSettings(
        console_url=console_url,
        token=token,
        ssl=ssl_param,
        heartbeat_seconds=heartbeat_seconds,
        reconnect_min_seconds=reconnect_min_seconds,
        reconnect_max_seconds=reconnect_max_seconds,
        max_sessions=max_sessions,
        prompt_timeout_seconds=prompt_timeout_seconds,
    )
    if hostname is not None:
        settings.hostname = hostname
    metrics = metrics if metrics is not None else JumpointMetrics()
    return TunnelClient(
        settings,
        adapters=load_adapters(),
        host_keys=host_key_store(state_dir),
        credentials=build_credential_stores(credential_stores, state_dir=state_dir, metrics=metrics),
        metrics=metrics,
    )
