"""Executors: where a candidate's or an analysis's work runs. Small classes behind one base (as
Optuna's storages are), swapped by argument; the protocol never changes when the executor does.

:class:`LocalProcesses` runs each piece of work in its own process on this machine (forked from
a server that preloaded the libraries once). A distributed engine is another executor with the
same two methods.
"""

from __future__ import annotations

import platform
from abc import ABC, abstractmethod
from collections.abc import Callable

from nnvsml.errors import InputError
from nnvsml.protocol.runner import Outcome, run_isolated, warm_up
from nnvsml.protocol.worker import main


class Executor(ABC):
    name: str = ""

    def start(self) -> None:
        """Pay the start-up costs (processes, imports) before any clock starts."""

    def lanes(self) -> int:
        """How many pieces of work it runs side by side without slowing each other: one on
        this machine (a candidate's fits use all its cores), one per CPU of a cluster."""
        return 1

    @abstractmethod
    def run(self, job, *, memory_limit_mb: float,
            on_progress: Callable[[str | None], None] | None = None,
            target: Callable = main, keep_partial: bool = False,
            hard_limit: float | None = None, lane: int = 0) -> Outcome:
        """Run ``target(job, conn)`` in isolation within ``job.time_limit`` (up to
        ``hard_limit`` when the work announces it needs longer); whatever happens, an Outcome.
        ``lane`` (below :meth:`lanes`): work in different lanes may run at the same time, from
        different threads."""

    def describe(self) -> dict:
        """Where the work ran, for the results."""
        return {"executor": self.name, "host": platform.node()}

    def close(self) -> None:
        """Let go of what :meth:`start` took (a cluster connection); the run is over."""


class LocalProcesses(Executor):
    name = "local"

    def start(self) -> None:
        warm_up()

    def run(self, job, *, memory_limit_mb, on_progress=None, target=main, keep_partial=False,
            hard_limit=None, lane=0) -> Outcome:
        return run_isolated(job, memory_limit_mb=memory_limit_mb, on_progress=on_progress,
                            target=target, keep_partial=keep_partial, hard_limit=hard_limit)


def _ray(**options) -> Executor:
    from nnvsml.protocol.ray_executor import RayCluster

    return RayCluster(options.get("ray_address"))


EXECUTORS: dict[str, Callable[..., Executor]] = {"local": lambda **options: LocalProcesses(),
                                                 "ray": _ray}


def get_executor(name: str | Executor = "local", **options) -> Executor:
    """The executor called ``name``, made with the options it takes (``ray_address``)."""
    if isinstance(name, Executor):
        return name
    try:
        make = EXECUTORS[name]
    except KeyError:
        raise InputError(f"unknown executor '{name}'; choose from: {', '.join(EXECUTORS)}") from None
    return make(**options)
