"""The budget rule: how the run's wall-clock seconds are shared between the two families.

A rule is a small class behind one base (as Optuna's samplers are), swapped by argument; the
runner never changes when the rule does. :class:`Budget` applies the rule over a run: it knows
the deadline, what each family has spent, and gives every candidate its time limit.

:class:`EqualPerFamily` (``--budget``) gives both families the same seconds;
:class:`EqualTrials` (``--trials N``) gives every candidate the same number of tuning trials and
trains without a clock, so that the run can be repeated exactly; ``--budget`` then only caps it.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod

from nnvsml import timing


class BudgetRule(ABC):
    name: str = ""
    description: str = ""

    @abstractmethod
    def pools(self, seconds: float, families: list[str]) -> dict[str, float]:
        """Split ``seconds`` into one pool per family."""

    def limit_for(self, budget: Budget, family: str, candidates_left: int) -> float:
        """The next candidate's time limit: its family's pool left, shared by those to run."""
        return timing.per_candidate(budget.family_left(family), candidates_left)


class EqualPerFamily(BudgetRule):
    """Each family gets the same wall-clock seconds, whatever its number of candidates.

    Within a family, every candidate may use what the family has left divided by the number of
    its candidates still to run, so the time a fast model leaves unused goes to the next model of
    the *same* family, never to the other family.
    """

    name = "equal_per_family"
    description = "equal wall-clock share per family; unused time stays within its family"

    def pools(self, seconds: float, families: list[str]) -> dict[str, float]:
        return timing.equal_parts(seconds, families)


class EqualTrials(BudgetRule):
    """Every candidate gets the same number of tuning trials, whatever they cost.

    No fit is bounded by a clock; the run's seconds (infinite unless ``--budget`` is given) are
    only a cap: a candidate may use what is left of them, and one that passes it is recorded as
    timed out.
    """

    name = "equal_trials"
    description = "the same number of tuning trials per candidate; seconds only cap the run"

    def pools(self, seconds: float, families: list[str]) -> dict[str, float]:
        return {f: seconds for f in families}

    def limit_for(self, budget: Budget, family: str, candidates_left: int) -> float:
        return max(0.0, budget.remaining())


class Budget:
    """Track a run's budget: per-family pools, what was spent, and the global deadline.

    ``reserve`` seconds are held back from the pools for writing results and the verdict, so
    the run as a whole ends inside its budget. ``spent_before`` carries what a family already
    spent in an earlier, interrupted invocation of the same run. ``lanes``: how many families
    run side by side (an executor with room for several pieces of work at once, a Ray cluster):
    the rule then shares the seconds of every lane, and no family gets more than the run's own
    seconds, since each family works in one lane. Each family's pool holds a part
    (``timing.SECURE_SHARE``) for securing its candidates' first results; the rest, and what that
    part leaves, goes to folds and tuning.
    """

    def __init__(
        self,
        total_seconds: float,
        families: list[str],
        rule: BudgetRule | None = None,
        spent_before: dict[str, float] | None = None,
        clock=time.monotonic,
        started: float | None = None,
        lanes: int = 1,
    ) -> None:
        self.total = math.inf if total_seconds is None else float(total_seconds)
        self.rule = rule or EqualPerFamily()
        self.clock = clock
        self.started = clock() if started is None else started
        self.reserve = timing.run_reserve(self.total)
        self.run = timing.TimeBudget(self.total, start=self.started, clock=clock).less(self.reserve)
        # What was spent before the candidates start (reading the data) comes off both pools.
        self.lanes = max(1, min(int(lanes), len(families)))
        seconds = self.run.remaining()
        self.pool = {f: min(p, seconds)
                     for f, p in self.rule.pools(seconds * self.lanes, list(families)).items()}
        self.spent = {f: float((spent_before or {}).get(f, 0.0)) for f in families}
        self.secure_pool = {f: timing.SECURE_SHARE * p for f, p in self.pool.items()}
        self.secure_spent = {f: 0.0 for f in families}
        # What first fits are charged to the securing part: at most their own parts, so that one
        # that runs long takes from its family's improving time, not the next ones' first fits.
        self.secure_charged = {f: 0.0 for f in families}

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        """Seconds left in this invocation before the reserve."""
        return self.run.remaining() if self.run.bounded else math.inf

    def family_left(self, family: str) -> float:
        return max(0.0, min(self.pool[family] - self.spent[family], self.remaining()))

    def limit_for(self, family: str, candidates_left: int) -> float:
        """Time limit of the next candidate of ``family``, of which ``candidates_left`` remain."""
        return self.rule.limit_for(self, family, candidates_left)

    def first_fit_limits(self, family: str, candidates_left: int) -> tuple[float, float]:
        """(limit, most) seconds for the first fit of the next of ``candidates_left`` candidates
        of ``family``: its part of the family's securing time, and what it may take when its
        measured progress says it needs longer (the family's time, less a floor for the rest)."""
        if not self.run.bounded or isinstance(self.rule, EqualTrials):
            left = self.remaining()
            return left, left
        return timing.first_fit_limits(self.secure_pool[family] - self.secure_charged[family],
                                       self.family_left(family), candidates_left)

    def record(self, family: str, seconds: float, securing: bool = False,
               part: float | None = None) -> None:
        """``seconds`` spent by ``family``; ``securing``: on a first fit whose part was
        ``part``."""
        self.spent[family] += seconds
        if securing:
            self.secure_spent[family] += seconds
            self.secure_charged[family] += seconds if part is None else min(seconds, part)

    def to_dict(self) -> dict:
        return {
            "rule": self.rule.name,
            "rule_description": self.rule.description,
            "lanes": self.lanes,
            "planned": {f: (round(p, 3) if math.isfinite(p) else None)
                        for f, p in self.pool.items()},
            "spent": {f: round(s, 3) for f, s in self.spent.items()},
            "first_fits": {f: round(s, 3) for f, s in self.secure_spent.items()},
        }
