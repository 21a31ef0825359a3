"""The anytime protocol: the order in which candidates get their time.

1. **Secure.** Every candidate gets one fit of its declared defaults, scored on the shared
   validation rows and then on the test rows, before any candidate gets folds or tuning. The
   families take turns and within a family the cheapest goes first (by its declared growth, then
   its declared order), so each family has a scored model early. A candidate's first fit has its
   part of its family's securing time; it may run longer when its own measured progress says it
   will finish, up to what its family can spare: never the parts of the candidates still to
   secure (an overrun is taken from the family's improving time).
2. **Improve.** What each family has left goes to its candidates, cheapest first by what their
   first fit measured: tuning (when the time allows), the k folds and the refit; or, when the
   folds would not fit or would train each fit less than the first fit did, one longer fit or a
   larger sample. A second stage that does not finish leaves the first result standing.

A candidate ends ``timeout`` only when not even its first fit, on the smallest stated sample,
finished; its reason says how long it ran and the ``--budget`` that would give it more.

**Side by side.** When the executor has a lane for each family (a Ray cluster with two CPUs or
more), each family secures and improves its candidates in its own lane, at the same time as the
other, and the budget gives each family the run's seconds instead of half of them
(``Budget(lanes=2)``): the same share of the cluster's time for each. Within a family the
candidates still run one after another.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from nnvsml import timing
from nnvsml.metrics import GREATER_IS_BETTER
from nnvsml.models import FAMILIES, Candidate
from nnvsml.protocol.budget import Budget
from nnvsml.protocol.executor import Executor
from nnvsml.protocol.runner import Outcome
from nnvsml.protocol.worker import SMALLEST_SAMPLE

SECOND_STAGES = ("secure", "again")


@dataclass
class Schedule:
    """What the anytime protocol needs from the run around it."""

    candidates: list[Candidate]
    budget: Budget
    executor: Executor
    #: (candidate, stage, limit, most, prior entry or None, tune) -> the job to run
    make_job: Callable[..., object]
    #: (candidate, status, reason, limit, result, wall, peak) -> a results.json entry
    make_entry: Callable[..., dict]
    record: Callable[[dict], None]
    reporter: object
    memory_limit_mb: float
    metric: str
    n_fits: int
    n_train: int
    holdout: bool = False
    #: The table is read in batches: candidates that learn from batches train on every row.
    streamed: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # lanes share the results, the display and the entries
        self._stop = threading.Event()
        self._lanes = threading.local()

    def run(self, kept: dict[str, dict]) -> None:
        entries = dict(kept)
        families = [f for f in FAMILIES if any(c.family == f for c in self.candidates)]
        if self.budget.lanes < 2 or len(families) < 2:
            self._secure(entries)
            self._improve(entries)
            return
        self._side_by_side(entries, families)

    def _side_by_side(self, entries: dict[str, dict], families: list[str]) -> None:
        errors: list[BaseException] = []

        def lane(number: int, family: str) -> None:
            self._lanes.number = number
            try:
                self._secure(entries, family)
                self._improve(entries, [family])
            except _Stopped:
                pass
            except BaseException as exc:  # a bug: raised again in the run's own thread
                errors.append(exc)
                self._stop.set()

        threads = [threading.Thread(target=lane, args=(i, f), name=f"nnvsml-{f}", daemon=True)
                   for i, f in enumerate(families)]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)  # short waits: Ctrl-C reaches this thread at once
        except BaseException:
            # Interrupted: the lanes record nothing more; their work is cut off when the
            # executor closes, and a later run with the same --out resumes it.
            self._stop.set()
            with self._lock:  # a record being written ends before the run marks its stop
                pass
            raise
        if errors:
            raise errors[0]

    @contextmanager
    def _shared(self) -> Iterator[None]:
        """The lanes' shared state (results, display, entries), while the run is not stopping."""
        with self._lock:
            if self._stop.is_set():
                raise _Stopped
            yield

    def _recorded(self, entries: dict[str, dict], name: str, entry: dict) -> None:
        with self._shared():
            entries[name] = entry
            self.record(entry)
            self.reporter.model_end(entry)

    # -- stage 1 --------------------------------------------------------------------------------
    def _secure(self, entries: dict[str, dict], family: str | None = None) -> None:
        todo = [c for c in first_order(self.candidates)
                if c.name not in entries and family in (None, c.family)]
        left = Counter(c.family for c in todo)
        for cand in todo:
            limit, most = self.budget.first_fit_limits(cand.family, left[cand.family])
            left[cand.family] -= 1
            if most < timing.MIN_CANDIDATE_SECONDS:
                entry = self.make_entry(cand, "skipped", f"budget exhausted ({most:.1f} s left "
                                        "for it); raise --budget", limit, None, 0.0, 0.0)
            else:
                outcome = self._run(cand, "secure", limit, most, keep_partial=True)
                self.budget.record(cand.family, outcome.wall_seconds, securing=True, part=limit)
                reason = outcome.reason
                if outcome.status != "ok" and outcome.result:
                    # A larger sample was cut short; the smaller fit it had finished stands.
                    outcome = _kept_smaller(outcome)
                    reason = None
                elif outcome.status == "timeout":
                    reason = self._first_fit_timeout(cand, outcome, limit)
                # The limit it was held to: its part, or the measured end it announced.
                held = outcome.stop_seconds if outcome.status == "timeout" else limit
                entry = self.make_entry(cand, outcome.status, reason, held, outcome.result,
                                        outcome.wall_seconds, outcome.peak_memory_mb)
            self._recorded(entries, cand.name, entry)

    def _first_fit_timeout(self, cand: Candidate, outcome: Outcome, limit: float) -> str:
        wall = outcome.wall_seconds
        needed = max(wall, outcome.wanted_seconds or 0.0) + wall  # at least twice what it had
        what = ("its first fit" if cand.time_aware
                else f"a first fit on {SMALLEST_SAMPLE:,} rows (the smallest sample)")
        hint = ""
        if math.isfinite(self.budget.total):
            hint = (f"; --budget {timing.needed_budget(self.budget.total, limit, needed):.0f} "
                    "would give it that")
        return (f"not even {what} finished within its time limit ({wall:.1f} s); it needs more "
                f"than {needed:.0f} s{hint}")

    # -- stage 2 --------------------------------------------------------------------------------
    def _improve(self, entries: dict[str, dict], families: list[str] = FAMILIES) -> None:
        by_name = {c.name: c for c in self.candidates}
        for family in families:
            with self._lock:
                done = list(entries.values())
            todo = sorted((e for e in done
                           if e["family"] == family and e["status"] == "ok"
                           and e["name"] in by_name
                           and (e.get("evaluation") or {}).get("stage") in SECOND_STAGES),
                          key=lambda e: ((e.get("cost") or {}).get("fit_seconds") or 0.0,
                                         e["name"]))
            for i, entry in enumerate(todo):
                cand = by_name[entry["name"]]
                limit = self.budget.limit_for(family, len(todo) - i)
                self._recorded(entries, cand.name, self._second(cand, entry, limit))

    def _second(self, cand: Candidate, entry: dict, limit: float) -> dict:
        evaluation = dict(entry.get("evaluation") or {})
        training = entry.get("training") or {}
        first_fit = float((entry.get("cost") or {}).get("fit_seconds") or 0.0)
        mode, tune, why = timing.second_stage(
            limit=limit, first_fit=first_fit,
            first_rows=int(evaluation.get("trained_rows") or self.n_train),
            all_rows=self.n_train, n_fits=self.n_fits + int(self.streamed and cand.streams),
            growth=cand.growth, streams=self.streamed and cand.streams,
            time_aware=cand.time_aware, stopped_by_time=training.get("stopped_by") == "time_limit",
            sampled=bool(evaluation.get("sampled")), holdout=self.holdout,
            # Networks train on from their first fit's weights (continue_fit).
            trains_on=cand.family == "neural")
        if mode is None or limit < timing.MIN_CANDIDATE_SECONDS:
            return _noted(entry, None, "not run", why)
        outcome = self._run(cand, mode, limit, limit, prior=entry, tune=tune)
        self.budget.record(cand.family, outcome.wall_seconds)
        spent = (entry.get("cost") or {}).get("wall_seconds") or 0.0
        if outcome.status != "ok":
            return _noted(entry, mode, outcome.status, outcome.reason or "",
                          extra_wall=outcome.wall_seconds)
        new = self.make_entry(cand, "ok", None, limit, outcome.result,
                              spent + outcome.wall_seconds, outcome.peak_memory_mb)
        if mode == "again" and not self._better(new, entry):
            return _noted(entry, mode, "not better",
                          "the longer fit scored no better on the validation rows",
                          extra_wall=outcome.wall_seconds)
        new["evaluation"] = {**new.get("evaluation", {}), "second_stage": {
            "stage": mode, "status": "ok", "reason": why,
            "seconds": round(outcome.wall_seconds, 3)}}
        return new

    def _better(self, new: dict, old: dict) -> bool:
        a = ((new.get("cv") or {}).get(self.metric) or {}).get("mean")
        b = ((old.get("cv") or {}).get(self.metric) or {}).get("mean")
        if a is None or b is None:
            return a is not None
        return a >= b if GREATER_IS_BETTER[self.metric] else a <= b

    def _run(self, cand: Candidate, stage: str, limit: float, most: float,
             prior: dict | None = None, tune: bool = True, keep_partial: bool = False) -> Outcome:
        with self._shared():
            self.reporter.model_start(cand, limit)
        job = self.make_job(cand, stage, limit, most, prior, tune)
        return self.executor.run(job, memory_limit_mb=self.memory_limit_mb,
                                 on_progress=self._progress, hard_limit=most,
                                 keep_partial=keep_partial,
                                 lane=getattr(self._lanes, "number", 0))

    def _progress(self, message: str | None) -> None:
        # Stopping: this lane's thread ends here; the executor's close ends its work.
        with self._shared():
            self.reporter.model_progress(message)


class _Stopped(Exception):
    """The run was interrupted while this lane worked."""


def first_order(candidates: list[Candidate]) -> list[Candidate]:
    """The families take turns; within one, models that cannot stop themselves go first, slower
    growing ones before faster, then the declared order."""
    by_family = {f: sorted((c for c in candidates if c.family == f),
                           key=lambda c: (c.time_aware, c.growth, candidates.index(c)))
                 for f in FAMILIES}
    out: list[Candidate] = []
    while any(by_family.values()):
        for family in FAMILIES:
            if by_family[family]:
                out.append(by_family[family].pop(0))
    return out


def _kept_smaller(outcome: Outcome) -> Outcome:
    """The outcome of a first stage whose larger sample was cut: the smaller fit's result."""
    result = dict(outcome.result)
    evaluation = dict(result.get("evaluation") or {})
    evaluation["note"] = (f"{evaluation.get('note') or 'a first fit'}; a fit on a larger sample "
                          f"was stopped ({outcome.reason})")
    result["evaluation"] = evaluation
    return Outcome("ok", None, result, outcome.wall_seconds, outcome.peak_memory_mb,
                   outcome.wanted_seconds, outcome.stop_seconds)


def _noted(entry: dict, stage: str | None, status: str, reason: str,
           extra_wall: float = 0.0) -> dict:
    """The first result, kept, with what became of its second stage."""
    out = dict(entry)
    evaluation = dict(out.get("evaluation") or {})
    evaluation["second_stage"] = {"stage": stage, "status": status, "reason": reason}
    out["evaluation"] = evaluation
    if extra_wall:
        cost = dict(out.get("cost") or {})
        cost["wall_seconds"] = round((cost.get("wall_seconds") or 0.0) + extra_wall, 3)
        out["cost"] = cost
    return out
