"""Start a stdio MCP server so that it dies with the OMNI2 process that launched it.

Used as ``python -I -S _pdeathsig.py <parent pid> <command> [args...]``: it asks Linux
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``) to kill it when its parent goes away, then
``exec``s the real server, which keeps the setting. This covers what ``close()``,
``atexit`` and Celery's shutdown signal cannot: the parent being SIGKILLed.
Kept free of imports beyond the standard library so it starts in a few milliseconds.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` when the parent (thread) exits. False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def main(argv: list[str]) -> None:
    parent, command = int(argv[1]), argv[2:]
    set_parent_death_signal()
    # The parent may have died before prctl took effect; then nobody would ever kill us.
    if os.getppid() != parent:
        os._exit(1)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        sys.stderr.write(f"cannot start MCP server {command[0]!r}: {exc}\n")
        os._exit(127)


if __name__ == "__main__":
    main(sys.argv)
