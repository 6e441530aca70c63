"""``python -m omni2.web``: uvicorn with TCP_NODELAY kept when it binds the socket itself."""

import socket

from uvicorn.config import Config

import omni2.web  # noqa: F401  (patches Config.bind_socket)


def test_connections_accepted_on_a_socket_uvicorn_bound_have_nagle_off():
    listener = Config(
        app="omni2.asgi:application", host="127.0.0.1", port=0, workers=2
    ).bind_socket()
    try:
        assert listener.proto == 0  # what uvicorn does; asyncio would then skip TCP_NODELAY
        listener.listen()
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        with client, accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        listener.close()
