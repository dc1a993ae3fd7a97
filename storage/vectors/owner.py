"""Which process holds an embedded vector store: one owner per directory, found by a socket address.

Chroma's embedded client caches each collection's index in memory and does not notice writes another
process makes to the same directory: a second process reading the store would miss every vector the first
one added since it loaded that index (checked with chromadb 1.5.9). So each directory has one owner, the
vector process (``storage.vectors.child``) of whichever Kindred process opened it first, and the others
(a separate ``kindred worker``, the console) send their calls to it.

Ownership is a listening Unix socket at an address derived from the directory. On Linux it is in the
abstract namespace: binding it is atomic, and the kernel releases it when the owner dies, so a crashed owner
never leaves a stale claim. Elsewhere it is a file in the temporary directory, claimed under a lock file
and replaced when nobody answers on it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import socket
import sys
import tempfile
from pathlib import Path

_ABSTRACT = sys.platform.startswith("linux")


class OwnedElsewhere(Exception):
    """Raised in a vector process asked to open a store that another process's vector process owns."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.address = address


def store_address(path: Path) -> str:
    """Return the socket address of the owner of the store at ``path`` (the same in every process)."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    if _ABSTRACT:
        return f"\0kindred-vectors-{digest}"
    # Short: a socket file's path must fit in about 100 bytes (104 on macOS), temporary directory included.
    return str(Path(tempfile.gettempdir()) / f"kv-{digest}.sock")


def claim(path: Path) -> socket.socket | None:
    """Become the owner of the store at ``path``: return the listening socket, or None if another owns it."""
    address = store_address(path)
    if _ABSTRACT:
        return _bind(address)
    import fcntl  # not on Windows, where Kindred's embedded mode is not supported

    with open(f"{address}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        listener = _bind(address)
        if listener is None and not _answers(address):
            Path(address).unlink(missing_ok=True)  # left by an owner that died
            listener = _bind(address)
        return listener


def release(listener: socket.socket) -> None:
    """Give up ownership (the address is free for the next process that opens the store)."""
    address = listener.getsockname()
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
    listener.close()
    if isinstance(address, str) and address and not address.startswith("\0"):
        Path(address).unlink(missing_ok=True)


def connect(address: str) -> socket.socket:
    """Connect to a store's owner (OSError if it has gone)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


def _bind(address: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            return None
        raise
    sock.listen(16)
    return sock


def _answers(address: str) -> bool:
    try:
        connect(address).close()
    except OSError:
        return False
    return True
