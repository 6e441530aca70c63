"""``python -m omni2.web …``: uvicorn's command line, keeping TCP_NODELAY with ``--workers N``.

With several workers uvicorn binds the listening socket itself, leaving its ``proto`` at 0;
accepted connections inherit that, asyncio then skips TCP_NODELAY, and every keep-alive
response waits on the client's delayed ACK: ~40 ms a request (uvicorn issue #3149, open).
Setting the option on the listener fixes it, since Linux copies it to accepted sockets.

Before uvicorn starts, Django's system checks run as they do for a management command, so an
unsafe setting (a placeholder secret key, ``omni2.checks``) stops the server with its message.
"""

import os
import socket

import django
import uvicorn
from uvicorn.config import Config

from omni2.checks import checks_or_exit

_bind_socket = Config.bind_socket


def _bind_socket_nodelay(self: Config) -> socket.socket:
    sock = _bind_socket(self)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


Config.bind_socket = _bind_socket_nodelay

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")
    django.setup()
    checks_or_exit()
    uvicorn.main()
