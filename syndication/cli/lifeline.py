"""The children of `syndication run` (granian web workers, the scheduler) die with it.

Stopped normally, `run` stops its children itself. Killed with SIGKILL, it stops nothing: the
workers would go on serving on the port, reparented to PID 1, and the scheduler on running jobs.
So each child watches its parent from a thread and, once the parent is gone, stops the way a
SIGTERM stops it (workers close their listeners and finish their requests, buffered visits are
flushed, the scheduler shuts its jobs down), then exits hard after a short grace if that has not
finished: at most CHECK_INTERVAL + GRACE seconds after the parent's death.

Why a watchdog thread rather than prctl(PR_SET_PDEATHSIG):
- the parent-death signal is one signal. SIGTERM alone is not bounded (the scheduler waits for
  a running job, a delivery up to `outbound_timeout`); SIGKILL alone flushes nothing. The
  thread does both: SIGTERM first, then a hard exit after the grace.
- PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process, so it
  would depend on which granian thread spawns (and respawns) workers; and it is Linux only.
The cost is one thread waking twice a second per process.

The parent's pid is given explicitly (an argument, or the environment for granian's workers,
whose factory takes none), never read from getppid() in the child: a parent that dies before
the child has started would otherwise go unnoticed, the child adopting PID 1 as "its" parent.
"""

from __future__ import annotations

import os
import signal
import threading
import time

# Set by `run` for its granian workers, which inherit the environment.
PARENT_ENV = "_SYNDICATION_RUN_PID"
CHECK_INTERVAL = 0.5
GRACE = 3.0


def follow_parent(parent_pid: int) -> threading.Thread:
    """Stop this process (SIGTERM, then a hard exit GRACE seconds later) once `parent_pid` is no
    longer its parent. Returns the watching thread (a daemon)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(CHECK_INTERVAL)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(GRACE)
        os._exit(1)

    thread = threading.Thread(target=watch, name="syndication-lifeline", daemon=True)
    thread.start()
    return thread


def follow_parent_from_env() -> None:
    """follow_parent() with the pid `run` put in the environment, if it did."""
    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit():
        follow_parent(int(parent))
