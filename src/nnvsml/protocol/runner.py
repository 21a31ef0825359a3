"""Run one candidate in its own process under a time limit and a memory limit.

Whatever happens to the candidate (it finishes, raises, hangs past its limit, outgrows its
memory or is killed by the system) comes back as an :class:`Outcome`, and the run goes on.

The time limit follows the process's own measured progress: a process announces when it expects
its current step to end (``("eta", seconds)``, from the fits it has timed), and it is stopped a
grace period after the later of its limit and its announced end, never after ``hard_limit``.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import multiprocessing.forkserver
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

from nnvsml import timing
from nnvsml.protocol.worker import Job, main

_CONTEXT = None

#: Held while a process is being started. A start cut off half-way (Ctrl-C in the main thread,
#: or the run exiting while a lane's thread is starting one) leaves the forkserver reading a
#: closed socket, and it dies printing a traceback on the user's terminal.
_STARTING = threading.Lock()


def _context():
    """A forkserver: children start from a clean, preloaded process (fast, and safe to fork,
    unlike our own process, which has threads running the progress display)."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = mp.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["nnvsml.protocol.preload", "nnvsml.protocol.worker",
                                         "nnvsml.evidence.worker"])
    _start_deaf_to_ctrl_c()
    return _CONTEXT


def _start_deaf_to_ctrl_c() -> None:
    """Start the forkserver ignoring SIGINT, so that it and every process it forks inherit that:
    Ctrl-C reaches the whole foreground process group, and only the main process should answer
    it (it stops the candidate's process itself, and prints one line). A child that got it
    would print a traceback, even while it is still importing its preload list."""
    if multiprocessing.forkserver._forkserver._forkserver_pid is not None:
        return  # already running (its children inherit what it was started with)
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals cannot be changed here
        multiprocessing.forkserver.ensure_running()
        return
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def start_whole(process) -> None:
    """``process.start()``, never cut off half-way."""
    with _STARTING, _signals_held():
        process.start()


@contextmanager
def _signals_held() -> Iterator[None]:
    """In the main thread, Ctrl-C and SIGTERM wait until the block ends, then act as they
    would have (the first one; they all stop the run)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    handlers = {s: signal.signal(s, lambda signum, frame: caught.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
        if caught:
            signal.raise_signal(caught[0])


@atexit.register
def _no_start_cut_off() -> None:
    # Registered after multiprocessing's own exit hook, so it runs first: a lane's thread
    # (a daemon) finishes the start it is in before the process goes.
    if _STARTING.acquire(timeout=10):
        _STARTING.release()


def warm_up() -> None:
    """Start the forkserver and wait until its preloaded imports (scikit-learn, LightGBM, torch
    and torch._dynamo) are done, so that no candidate's clock pays for them."""
    ctx = _context()
    # The server imports its preload list before it forks anything: one empty child proves it.
    process = ctx.Process(target=_nothing, name="nnvsml-warm-up")
    start_whole(process)
    process.join()


def _nothing() -> None:
    pass


@dataclass
class Outcome:
    status: str  # ok | failed | timeout
    reason: str | None
    result: dict | None
    wall_seconds: float
    peak_memory_mb: float
    #: Seconds the process had announced it still needed when it was stopped (None: no word).
    wanted_seconds: float | None = None
    #: Seconds after its start at which it was (or would have been) stopped.
    stop_seconds: float | None = None


def run_isolated(
    job: Job,
    *,
    memory_limit_mb: float,
    on_progress: Callable[[str], None] | None = None,
    poll_seconds: float = 0.2,
    target: Callable = main,
    keep_partial: bool = False,
    hard_limit: float | None = None,
) -> Outcome:
    """Run ``target(job, conn)`` (by default a candidate's evaluation) in its own process.

    ``job`` needs a ``name`` or a ``candidate`` and a ``time_limit``. The last ``result`` the
    process sent is its result; with ``keep_partial`` it is kept even when the process ran out
    of time or memory (an analysis sends what it has so far as it goes). ``hard_limit`` (default
    ``job.time_limit``) is the most the process may run when it announces a later end.
    """
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    label = getattr(job, "name", None) or job.candidate.name
    process = ctx.Process(target=target, args=(job, send), name=f"nnvsml-{label}")
    start = time.monotonic()
    start_whole(process)
    send.close()
    watcher = _MemoryWatcher(process.pid)
    result, error, status, reason = None, None, None, None
    soft = job.time_limit
    hard = max(soft, hard_limit if hard_limit is not None else soft)
    announced = None  # seconds after start at which the process expects its step to end
    stop_at = timing.stop_after(soft, hard, None)
    try:
        while True:
            for kind, payload in _drain(receive):
                if kind == "progress" and on_progress:
                    on_progress(payload)
                elif kind == "eta":
                    announced = time.monotonic() - start + float(payload)
                elif kind == "result":
                    result = payload
                elif kind == "error":
                    error = payload
            if on_progress:
                on_progress(None)  # a heartbeat, so the display's clock keeps moving
            if not process.is_alive():
                break
            elapsed = time.monotonic() - start
            stop_at = timing.stop_after(soft, hard, announced)
            if elapsed > stop_at:
                status = "timeout"
                reason = f"exceeded its time limit of {elapsed:.1f} s (raise --budget)"
                break
            if watcher.sample() > memory_limit_mb:
                status = "failed"
                reason = (f"out of memory: used more than {memory_limit_mb:.0f} MB "
                          "(raise --max-memory-mb or use fewer rows)")
                break
            receive.poll(poll_seconds)
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receive.close()
    wall = time.monotonic() - start
    # What the model itself added: the process starts with the preloaded libraries resident.
    peak = max(watcher.increment, (result or {}).get("cost", {}).get("peak_memory_mb", 0.0))
    wanted = None if announced is None else max(0.0, announced - wall)
    if status is None:
        if result is not None and process.exitcode == 0:
            status = "ok"
        else:
            status, reason = "failed", error or _exit_reason(process.exitcode)
    return Outcome(status, reason, result if status == "ok" or keep_partial else None, wall, peak,
                   wanted, stop_at)


def _drain(conn):
    """Every message waiting on the pipe; a closed pipe just ends the stream."""
    try:
        while conn.poll():
            yield conn.recv()
    except (EOFError, OSError):
        return


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = " (the system may have run out of memory)" if -exitcode == signal.SIGKILL else ""
        return f"process killed by {name}{hint}"
    return f"process exited with code {exitcode} without a result"


class _MemoryWatcher:
    """Resident memory of the candidate's process and its children, sampled by the parent."""

    def __init__(self, pid: int) -> None:
        try:
            self.process = psutil.Process(pid)
        except psutil.Error:
            self.process = None
        self.peak = 0.0
        self.first: float | None = None

    @property
    def increment(self) -> float:
        """Peak resident memory above the first sample (the forked process's inherited pages)."""
        return max(0.0, self.peak - (self.first or 0.0))

    def sample(self) -> float:
        if self.process is None:
            return 0.0
        try:
            procs = [self.process, *self.process.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in procs) / 2**20
        except psutil.Error:
            return 0.0
        if self.first is None:
            self.first = rss
        self.peak = max(self.peak, rss)
        return rss
