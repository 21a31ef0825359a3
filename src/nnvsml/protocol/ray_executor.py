"""Candidates run on a Ray cluster (``--executor ray``): each piece of work is sent to a runner
actor on the cluster, which runs it exactly as the local executor does (its own process, under
the same time and memory limits, from a process server that preloaded the libraries once) and
sends back the same :class:`~nnvsml.protocol.runner.Outcome`. The protocol, the budget rule and
the results do not change with the executor.

The cluster has one lane per CPU (:meth:`RayCluster.lanes`), and the schedule runs the two
families side by side, each in its own lane: a lane has its own runner, and the runners are
spread over the nodes. The CPUs beyond one per family are shared equally by the families as
tuning helpers: while a candidate tunes (its improve stage, under a wall-clock budget), each of
its lane's helpers runs trials of the same Optuna study in a process of its own, with a seed of
its own, and the candidate chooses from every trial in the study. Networks go to a runner holding a GPU when the cluster has one, everything
else to a runner holding one CPU. A runner whose node dies takes its work with it: that work is recorded as
failed with the reason, a new runner is started for the next, and a later run with the same
``--out`` resumes.

The prepared data goes to the cluster once: the first piece of work puts the data file into
Ray's object store, and each node's runner copies it from there into a private folder of its own
the first time it needs it; every later stage on that node reads that copy. The run directory
must still be on a filesystem every node sees (one machine, or a shared mount): the work writes
its model files there, and a table read in batches (nnvsml.data.large) is streamed from its path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from nnvsml.errors import InputError
from nnvsml.models import FAMILIES
from nnvsml.protocol.executor import Executor
from nnvsml.protocol.runner import Outcome
from nnvsml.protocol.worker import main
from nnvsml.resources import free_cores

#: Seconds between looks at a running task (the progress display's heartbeat).
POLL_SECONDS = 0.2
#: A helper tuning a candidate's study beside it gets this far past the candidate's end to
#: finish its last trial; its seed is the candidate's plus a multiple of this step.
HELPER_GRACE_SECONDS = 30.0
HELPER_SEED_STEP = 1009
#: Characters of a Ray node's id kept in the results (enough to tell a cluster's nodes apart).
NODE_ID_CHARS = 16
#: Seconds a new runner may take to be placed and import the libraries (a few on a loaded
#: machine); longer means the cluster has no CPU left for it.
PLACE_SECONDS = 120.0


def missing() -> str | None:
    try:
        import ray  # noqa: F401
    except ImportError:
        return "--executor ray needs Ray: pip install 'nnvsml[ray]'"
    return None


def check_address(address: str | None) -> None:
    """An :class:`InputError` when a ``HOST:PORT`` address does not answer (Ray itself retries
    for minutes before giving up)."""
    import socket

    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray-address must be auto or HOST:PORT, got '{address}'")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise InputError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); "
                         "start it with 'ray start --head' there, or pass the address it "
                         "printed") from None


class _Runner:
    """Lives on a node of the cluster; runs one piece of work at a time, isolated."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="nnvsml-data-"))  # private (0700)

    def warm_up(self) -> None:
        from nnvsml.protocol.runner import warm_up

        warm_up()

    def run(self, job, memory_limit_mb, target, keep_partial, hard_limit, data=None) -> Outcome:
        from nnvsml.protocol.runner import run_isolated

        import ray

        if data is not None:
            job = dataclasses.replace(job, data_path=str(self._local(*data)))
        outcome = run_isolated(job, memory_limit_mb=memory_limit_mb, target=target,
                               keep_partial=keep_partial, hard_limit=hard_limit)
        if outcome.result is not None and "cost" in outcome.result:
            # The node, not only its host: a cluster's nodes may share one machine.
            node = ray.get_runtime_context().get_node_id()[:NODE_ID_CHARS]
            outcome.result["cost"] = {**outcome.result["cost"], "node": node}
        return outcome

    def _local(self, sha256: str, refs: list) -> Path:
        """This node's copy of the data file named by its digest, fetched from the object store
        the first time (``refs`` holds the reference, so Ray does not fetch it unasked)."""
        import ray

        path = self.folder / f"{sha256}.joblib"
        if not path.exists():
            blob = ray.get(refs[0])
            if hashlib.sha256(blob).hexdigest() != sha256:
                raise RuntimeError("the data from the object store does not match its digest")
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(blob)
            os.replace(tmp, path)
        return path

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class RayCluster(Executor):
    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        #: (kind, lane) -> the runner actor working for that lane.
        self._runners: dict[tuple[str, int], object] = {}
        self._connected = False
        self._gpus = 0.0
        self._cpus = 1
        # Lanes call run() from their own threads.
        self._lock = threading.Lock()
        #: Data files put into the object store: path -> (digest, reference).
        self._data: dict[str, tuple] = {}

    def start(self) -> None:
        reason = missing()
        if reason is not None:
            raise InputError(reason)
        import ray

        self._connected = not ray.is_initialized()
        if self._connected:
            check_address(self.address)
            try:
                # No address: a new Ray of this machine (not whichever cluster ran last here).
                ray.init(address=self.address or "local", include_dashboard=False,
                         log_to_driver=False, configure_logging=False, logging_level="ERROR")
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a new local cluster"
                raise InputError(f"cannot connect to the Ray cluster at {where} "
                                 f"({str(exc).splitlines()[0][:160]}); start it with 'ray start "
                                 "--head' or pass --ray-address HOST:PORT") from None
        resources = ray.cluster_resources()
        self._gpus = float(resources.get("GPU", 0.0))
        self._cpus = max(1, int(resources.get("CPU", 1)))
        if self._connected and self.address is None:
            # A Ray of this machine alone: one lane per core nobody else is using. Two lanes
            # beside a busy core share the one left (adult, 3 trials, beside a CPU hog: the
            # network's lane took 108 s instead of 86 s, LightGBM 26 s instead of 11 s).
            self._cpus = min(self._cpus, free_cores())
        # Each runner starts its process server and imports the libraries now, before any
        # candidate's clock starts: one for each lane the two families may use.
        wanted = [("cpu", lane) for lane in range(min(self._cpus, len(FAMILIES)))]
        if self._gpus:  # the networks' lane works on the GPU's runner
            wanted = [("cpu", 0), ("gpu", 0)]
        wanted += [(f"helper-{k}", lane) for lane in range(len(FAMILIES))
                   for k in range(self.helpers_per_lane())]
        for kind, lane in wanted:
            self._runner(kind, lane, warm=False)
        ray.get([self._runners[key].warm_up.remote() for key in wanted])

    def lanes(self) -> int:
        return self._cpus

    def _runner(self, kind: str, lane: int = 0, warm: bool = True):
        import ray

        with self._lock:
            runner = self._runners.get((kind, lane))
            if runner is not None:
                return runner
            # SPREAD: the lanes' runners on different nodes while there are nodes to spare.
            runner = ray.remote(_Runner).options(
                num_cpus=1, num_gpus=1 if kind == "gpu" else 0, max_concurrency=1,
                scheduling_strategy="SPREAD").remote()
            self._runners[(kind, lane)] = runner
        if warm:
            try:
                ray.get(runner.warm_up.remote(), timeout=PLACE_SECONDS)
            except ray.exceptions.GetTimeoutError:
                # No CPU for it: a node was lost. This lane's work waits its turn on another
                # lane's runner instead.
                ray.kill(runner)
                with self._lock:
                    others = [r for (k, n), r in self._runners.items()
                              if k == kind and n != lane]
                    if not others:
                        self._runners.pop((kind, lane), None)
                        raise
                    self._runners[(kind, lane)] = runner = others[0]
        return runner

    def _forget(self, runner) -> None:
        """A runner that died: every lane it served gets a new one for its next piece of work."""
        with self._lock:
            for key in [k for k, r in self._runners.items() if r is runner]:
                del self._runners[key]

    def run(self, job, *, memory_limit_mb, on_progress: Callable | None = None, target=main,
            keep_partial=False, hard_limit=None, lane=0) -> Outcome:
        import ray

        candidate = getattr(job, "candidate", None)
        kind = "gpu" if self._gpus and getattr(candidate, "family", None) == "neural" else "cpu"
        started = time.monotonic()
        runner = None
        helpers: list = []
        try:
            runner = self._runner(kind, 0 if kind == "gpu" else lane)
            ref = runner.run.remote(job, memory_limit_mb, target, keep_partial, hard_limit,
                                    self._put(job.data_path))
            helpers = self._start_helpers(job, memory_limit_mb, target, lane)
            while True:
                done, _ = ray.wait([ref], timeout=POLL_SECONDS)
                if done:
                    break
                if on_progress:
                    on_progress(None)
            outcome = ray.get(ref)
        except ray.exceptions.GetTimeoutError:
            return Outcome("failed", f"no node of the Ray cluster had a CPU for it within "
                           f"{PLACE_SECONDS:.0f} s (was a node lost?); run again with the same "
                           "--out to resume", None, time.monotonic() - started, 0.0)
        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError) as exc:
            self._forget(runner)
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            return Outcome("failed", f"the Ray worker running it died ({type(exc).__name__}"
                           f"{': ' + first if first else ''}); run again with the same --out "
                           "to resume", None, time.monotonic() - started, 0.0)
        finally:
            if helpers:
                # Their tuning time ends with the candidate's own: wait for their last trial.
                ray.wait(helpers, num_returns=len(helpers), timeout=HELPER_GRACE_SECONDS)
        return outcome

    def helpers_per_lane(self) -> int:
        """Tuning helpers each family's lane gets: the CPUs beyond one per lane, shared
        equally by the families (a GPU cluster's networks get none: their lane is the GPU)."""
        if self._gpus:
            return 0
        return max(0, self._cpus - len(FAMILIES)) // len(FAMILIES)

    def _start_helpers(self, job, memory_limit_mb, target, lane: int) -> list:
        """Helpers tuning the candidate's study beside its improve stage, one per spare CPU of
        its lane, each with a seed of its own. Not under --trials: the same trials must give
        the same results on every executor."""
        n = self.helpers_per_lane()
        plan = getattr(job, "tuning", None)
        if (not n or getattr(job, "stage", None) != "improve" or not getattr(job, "tune", False)
                or plan is None or plan.trials is not None or plan.strategy == "none"):
            return []
        refs = []
        for k in range(n):
            try:
                helper = self._runner(f"helper-{k}", lane)
            except Exception:  # no CPU for it after all: the candidate tunes alone
                break
            refs.append(helper.run.remote(
                dataclasses.replace(job, stage="tune", seed=job.seed + HELPER_SEED_STEP * (k + 1)),
                memory_limit_mb, target, False, None, self._put(job.data_path)))
        return refs

    def _put(self, data_path: str) -> tuple[str, list]:
        """The data file's digest and its object store reference: put there once per run (the
        file is written once, before the first piece of work)."""
        import ray

        with self._lock:
            if data_path not in self._data:
                blob = Path(data_path).read_bytes()
                self._data[data_path] = (hashlib.sha256(blob).hexdigest(), ray.put(blob))
            digest, ref = self._data[data_path]
        return digest, [ref]

    def describe(self) -> dict:
        import ray

        nodes = [{"node": str(n.get("NodeID", ""))[:NODE_ID_CHARS],
                  "host": n.get("NodeManagerHostname"), "address": n.get("NodeManagerAddress"),
                  "cpus": n.get("Resources", {}).get("CPU"),
                  "gpus": n.get("Resources", {}).get("GPU", 0.0)}
                 for n in ray.nodes() if n.get("Alive")] if ray.is_initialized() else []
        return {"executor": self.name, "host": platform.node(),
                "address": self.address or "local", "nodes": nodes, "lanes": self._cpus,
                "tuning_helpers_per_lane": self.helpers_per_lane(),
                "data": "put into the object store once; each node keeps a copy"}

    def close(self) -> None:
        import ray

        for runner in self._runners.values():
            try:
                ray.get(runner.close.remote(), timeout=30)  # its copy of the data
            except Exception:  # already gone with its node
                pass
            try:
                ray.kill(runner)
            except Exception:  # already gone with its node
                pass
        self._runners.clear()
        self._data.clear()
        if self._connected and ray.is_initialized():
            ray.shutdown()
        self._connected = False
