"""How many cores a fit should use: the ones nobody else is using right now.

A laptop runs a browser and CI runs beside other jobs. OpenMP thread pools (torch, LightGBM) that
ask for every core while another process keeps one busy wait on each other at every barrier: a
small network's epoch measured 2x slower with 2 threads than with 1 beside one busy process, and
up to 50x slower in bursts. So a fit asks for the cores that were idle a moment ago, at least one.
"""

from __future__ import annotations

import os
import time

import psutil

#: A core busier than this (percent, over the sample) counts as taken by another process.
BUSY_PERCENT = 50.0
#: Seconds of sampling per look, and how long a look stays valid in a process.
SAMPLE_SECONDS = 0.1
VALID_SECONDS = 5.0

_last: tuple[float, int] | None = None


def usable_cores() -> int:
    """Cores this process may run on (a container or taskset can make them fewer)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def free_cores() -> int:
    """Cores idle over the last short sample, at least one; an explicit OMP_NUM_THREADS is the
    user's choice and wins."""
    global _last
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    now = time.monotonic()
    if _last is not None and now - _last[0] < VALID_SECONDS:
        return _last[1]
    cores = usable_cores()
    busy = psutil.cpu_percent(interval=SAMPLE_SECONDS, percpu=True)
    # The sample also sees this process, idle while it samples: what it sees is the others.
    taken = sum(1 for p in busy if p > BUSY_PERCENT)
    free = max(1, min(cores, len(busy) - taken))
    _last = (now, free)
    return free
