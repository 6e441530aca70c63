import os
import socket

from celery import shared_task


@shared_task(name="omni2.ping")
def ping(token: str) -> dict:
    """Round trip proof: the worker echoes the token with its host and pid."""
    return {"token": token, "host": socket.gethostname(), "pid": os.getpid()}
