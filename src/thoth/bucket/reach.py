"""Whether the storage emulator named by STORAGE_EMULATOR_HOST listens, asked in one TCP
connect: a refused connection is retried by the storage client for minutes before it fails,
which is how a local stack that is down used to look (a hang, then a traceback)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from thoth.config import Settings


def storage_unreachable(settings: Settings) -> str | None:
    """Why the storage emulator (STORAGE_EMULATOR_HOST) cannot be reached, or None when it
    listens or none is set (Google's own endpoint is left to the client and its retries)."""
    emulator = settings.storage_emulator_host
    if not emulator:
        return None
    parts = urlsplit(emulator if "://" in emulator else f"http://{emulator}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname or "", port), timeout=3).close()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return (
            f"cannot reach Cloud Storage at {emulator} (STORAGE_EMULATOR_HOST): {reason}. "
            "Is the local stack running? Start it with `make up` (or `thoth dev up`)."
        )
    return None
