"""Where the front door's requests to a container come from.

Cloud Run's front end reaches a container over the network, never from the container's own
loopback address, so a server that trusts proxy headers only from 127.0.0.1 (uvicorn's default)
ignores its X-Forwarded-Proto and X-Forwarded-For there, and builds `http://` URLs for a
service its clients reach over `https://`. The door connects from 127.0.0.2 to the same effect:
an address of the loopback network (Linux routes all of 127.0.0.0/8 to it) that is not
127.0.0.1. Where it cannot be bound (macOS has only 127.0.0.1 unless configured), the door
connects from 127.0.0.1 and logs that it does.
"""

from __future__ import annotations

import functools
import socket

FRONT_END_HOST = "127.0.0.2"


@functools.cache
def front_end_address() -> tuple[str, int] | None:
    """The local address to connect to containers from; None: the system's choice."""
    try:
        with socket.socket() as sock:
            sock.bind((FRONT_END_HOST, 0))
    except OSError:
        return None
    return (FRONT_END_HOST, 0)
