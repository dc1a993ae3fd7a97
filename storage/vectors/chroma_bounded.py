"""Open embedded Chroma with a bound on how many vector indexes stay loaded in memory.

Chroma's embedded client (the Rust bindings) keeps every HNSW index it has opened in an in-process cache
whose capacity is derived from the open-file limit (``RLIMIT_NOFILE // 5``: 4,000 indexes at a limit of
20,000). Kindred has one collection per person and realm, and each loaded index holds about 2.6 MB even
with ten vectors in it, so a bot that recalls for a few thousand people grows by gigabytes. Chroma's
``chroma_segment_cache_policy`` / ``chroma_memory_limit_bytes`` settings only reach its older Python
segment manager, not this client, and ``chroma_api_impl`` accepts only Chroma's own classes. The capacity
is the one number the bindings read when they start, so the system is assembled here the way
``PersistentClient`` does it, with the capacity set between building the API and starting it. An evicted
index is read back from disk on its next query.

That reload reads the index files alone and does not replay the log written since their last sync, so
``ChromaIndex`` makes every collection sync on each write (``sync_threshold`` 1); under Chroma's default
of 1,000 a reloaded index raised "Nothing found on disk" or lacked its newest vectors. The same holds for
Chroma's own capacity once more collections than it are used in one process.

The capacity alone does not bound memory below 64 indexes: Chroma's cache is split into 64 shards, each
given a share of the capacity and each keeping at least its newest index, so a capacity of 1 or 32 holds
up to 64 (docs/performance.md, "Memory (session 4)"). ``ChromaIndex`` keeps the bound itself by reopening
the client when it would pass it (``ChromaIndex._admit``); the capacity set here still makes Chroma evict
within that window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chromadb.api import ClientAPI, ServerAPI
from chromadb.api.client import Client
from chromadb.api.rust import RustBindingsAPI
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import System
from chromadb.telemetry.product import ProductTelemetryClient


def open_persistent_client(path: Path, settings: Any, loaded_max: int) -> ClientAPI:
    """Return a client on the store at ``path`` keeping at most ``loaded_max`` indexes loaded (0: no bound).

    ``settings`` is a ``chromadb.config.Settings``; it is made persistent at ``path`` here. When the process
    already has this store open, the running system (and its capacity) is shared, as Chroma always does.
    """
    settings.persist_directory = str(path)
    settings.is_persistent = True
    identifier = str(path)
    if loaded_max <= 0 or identifier in SharedSystemClient._identifier_to_system:
        return Client(settings=settings)
    system = System(settings)
    # Chroma resolves these abstract types to the implementations its settings name, as PersistentClient does.
    system.instance(ProductTelemetryClient)  # type: ignore[type-abstract]
    api = system.instance(ServerAPI)  # type: ignore[type-abstract]
    if isinstance(api, RustBindingsAPI):
        api.hnsw_cache_size = min(api.hnsw_cache_size, loaded_max)
    system.start()
    return Client.from_system(system)
