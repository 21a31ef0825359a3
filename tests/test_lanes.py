"""Families side by side: with an executor that has a lane for each family (a Ray cluster), each
family's candidates run in their own lane at the same time as the other family's, and each
family gets the run's seconds instead of half of them."""

from __future__ import annotations

import threading
import time

import pytest

from nnvsml.models import get
from nnvsml.protocol import Budget
from nnvsml.protocol.budget import EqualTrials
from nnvsml.protocol.executor import Executor
from nnvsml.protocol.runner import Outcome
from nnvsml.protocol.schedule import Schedule

NAMES = ["logistic_regression", "decision_tree", "mlp", "ft_transformer"]


def test_lanes_give_each_family_the_runs_seconds_not_half():
    # A clock that stands still: on a busy machine the real one moves between two budgets.
    def still():
        return 1000.0

    one = Budget(100, ["traditional", "neural"], clock=still)
    two = Budget(100, ["traditional", "neural"], lanes=2, clock=still)
    run = 100 - one.reserve
    assert one.pool == pytest.approx({"traditional": run / 2, "neural": run / 2})
    assert two.pool == pytest.approx({"traditional": run, "neural": run})
    assert two.to_dict()["lanes"] == 2
    # More lanes than families: each family works in one lane, so never more than the run.
    assert Budget(100, ["traditional", "neural"], lanes=16, clock=still).pool == \
        pytest.approx(two.pool)
    assert Budget(100, ["neural"], lanes=2).lanes == 1
    # Counting trials, every candidate may use what is left of the run either way.
    trials = Budget(100, ["traditional", "neural"], rule=EqualTrials(), lanes=2, clock=still)
    assert trials.pool == pytest.approx({"traditional": run, "neural": run})


class _Lanes(Executor):
    """Runs nothing: waits a moment and says when, in which lane and thread, each job ran."""

    name = "fake"

    def __init__(self, lanes: int, fail: str | None = None) -> None:
        self.n, self.fail, self.log = lanes, fail, []

    def lanes(self) -> int:
        return self.n

    def run(self, job, *, memory_limit_mb, on_progress=None, target=None, keep_partial=False,
            hard_limit=None, lane=0) -> Outcome:
        started = time.monotonic()
        if job["name"] == self.fail:
            raise ValueError("a bug in the executor")
        for _ in range(6):
            time.sleep(0.05)
            on_progress(None)
        self.log.append((job["family"], job["stage"], lane, threading.get_ident(), started,
                         time.monotonic()))
        return Outcome("ok", None, {"name": job["name"]}, time.monotonic() - started, 1.0)


class _Seen:
    def __init__(self) -> None:
        self.ended: list[str] = []

    def model_start(self, cand, limit) -> None:
        pass

    def model_progress(self, message) -> None:
        pass

    def model_end(self, entry) -> None:
        self.ended.append(entry["name"])


def _schedule(executor: Executor, recorded: list) -> tuple[Schedule, _Seen]:
    candidates = [get(n) for n in NAMES]
    budget = Budget(600, ["traditional", "neural"], lanes=executor.lanes())
    seen = _Seen()

    def make_entry(cand, status, reason, limit, result, wall, peak):
        return {"name": cand.name, "family": cand.family, "status": status,
                "evaluation": {"stage": "final"}, "cost": {"wall_seconds": wall}}

    return Schedule(candidates=candidates, budget=budget, executor=executor,
                    make_job=lambda cand, stage, *a: {"name": cand.name, "family": cand.family,
                                                      "stage": stage},
                    make_entry=make_entry, record=recorded.append, reporter=seen,
                    memory_limit_mb=1000, metric="accuracy", n_fits=3, n_train=500), seen


def _overlap(a: list, b: list) -> bool:
    return any(x[4] < y[5] and y[4] < x[5] for x in a for y in b)


def test_two_lanes_run_the_families_at_the_same_time_each_in_its_own_lane():
    executor, recorded = _Lanes(2), []
    schedule, seen = _schedule(executor, recorded)
    schedule.run({})
    assert sorted(e["name"] for e in recorded) == sorted(NAMES) == sorted(seen.ended)
    by = {f: [r for r in executor.log if r[0] == f] for f in ("traditional", "neural")}
    assert {r[2] for r in by["traditional"]} != {r[2] for r in by["neural"]}
    assert len({r[3] for r in executor.log}) == 2  # one thread per family
    assert _overlap(by["traditional"], by["neural"])
    for runs in by.values():  # within a family, one after another
        assert not any(_overlap([x], [y]) for i, x in enumerate(runs) for y in runs[i + 1:])


def test_one_lane_runs_one_job_at_a_time_in_this_thread():
    executor, recorded = _Lanes(1), []
    schedule, _ = _schedule(executor, recorded)
    schedule.run({})
    assert sorted(e["name"] for e in recorded) == sorted(NAMES)
    assert {r[3] for r in executor.log} == {threading.get_ident()}
    assert not any(_overlap([x], [y]) for i, x in enumerate(executor.log)
                   for y in executor.log[i + 1:])


def test_a_bug_in_one_lane_stops_the_other_and_is_raised_in_the_runs_thread():
    executor, recorded = _Lanes(2, fail="mlp"), []
    schedule, _ = _schedule(executor, recorded)
    with pytest.raises(ValueError, match="a bug in the executor"):
        schedule.run({})
    # The other lane records nothing once the run is stopping.
    assert "mlp" not in {e["name"] for e in recorded}
    assert len(recorded) < len(NAMES)


def test_ctrl_c_stops_both_lanes_and_nothing_is_recorded_after_it():
    import _thread

    executor, recorded = _Lanes(2), []
    schedule, _ = _schedule(executor, recorded)
    threading.Timer(0.1, _thread.interrupt_main).start()  # Ctrl-C while both lanes work
    with pytest.raises(KeyboardInterrupt):
        schedule.run({})
    seen = len(recorded)
    time.sleep(1.0)  # what the lanes were running ends; none of it is recorded
    assert len(recorded) == seen < len(NAMES)
