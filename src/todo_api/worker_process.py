"""A worker process ends with the process that started it.

With `TODO_WORKERS` > 1, Uvicorn's main process starts the workers, and each worker holds the
listening socket. If the main process is killed outright (kill -9, the OOM killer), nothing tells
the workers: they would keep the port, and a restarted service could not bind it. On Linux the
kernel can send a signal to a process when its parent dies; a worker asks for SIGTERM, which
Uvicorn answers with a graceful shutdown that closes the socket at once.
"""

import ctypes
import multiprocessing
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal this process gets when its parent dies


def exit_with_parent() -> None:
    """In a worker started by another process (Linux): SIGTERM this one when that one dies."""
    parent = multiprocessing.parent_process()
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        return  # not allowed here (a sandbox): the worker outlives its parent as before
    if os.getppid() != parent.pid:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
