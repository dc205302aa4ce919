"""A buffer's background flush: one daemon thread per process that calls `flush` every
`interval` seconds, and once more when the process exits.

Shared by the buffers that keep hot request paths free of database writes (short link visits in
links/visits.py, feed reach in reach/buffer.py): each owns its items and its put-back rule; this
owns the thread's life. A forked worker starts its own thread on its first item, since threads
do not survive a fork.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections.abc import Callable
from multiprocessing import util as mp_util


class PeriodicFlush:
    def __init__(self, flush: Callable[[], object], interval: float, name: str) -> None:
        self._flush = flush
        self._interval = interval
        self._name = name
        self._started = False
        self._stop = threading.Event()
        # A forked child has no thread: it starts its own on its first item. Told by the fork
        # itself rather than by comparing os.getpid() on every item (a system call per request).
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_thread(ref))

    def ensure_started(self) -> None:
        """Start this process's flusher unless running; call with the buffer's lock held, so
        that two first items cannot start two threads."""
        if not self._started:
            self._start()

    def _start(self) -> None:
        self._started = True
        self._stop = threading.Event()
        thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        thread.start()
        # Flush on the way out: atexit for ordinary interpreters, multiprocessing's
        # finalizers for worker processes that leave through os._exit (granian's do).
        atexit.register(self.close)
        mp_util.Finalize(self, self.close, exitpriority=100)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._flush()

    def close(self) -> None:
        self._stop.set()
        self._flush()


def _forget_thread(ref: weakref.ref[PeriodicFlush]) -> None:
    flusher = ref()
    if flusher is not None:
        flusher._started = False
