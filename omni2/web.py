"""``python -m omni2.web …``: uvicorn's command line, keeping TCP_NODELAY with ``--workers N``.

With several workers uvicorn binds the listening socket itself, leaving its ``proto`` at 0;
accepted connections inherit that, asyncio then skips TCP_NODELAY, and every keep-alive
response waits on the client's delayed ACK: ~40 ms a request (uvicorn issue #3149, open).
Setting the option on the listener fixes it, since Linux copies it to accepted sockets.
"""

import socket

import uvicorn
from uvicorn.config import Config

_bind_socket = Config.bind_socket


def _bind_socket_nodelay(self: Config) -> socket.socket:
    sock = _bind_socket(self)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


Config.bind_socket = _bind_socket_nodelay

if __name__ == "__main__":
    uvicorn.main()
