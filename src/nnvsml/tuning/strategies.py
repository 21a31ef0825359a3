"""Search strategies: a sampler and a pruner behind one small base, swapped by ``--search``.

The tuner never changes when the strategy does (as Optuna's own samplers and pruners are
swapped by argument). Every strategy starts from the candidate's defaults as its first trial,
so a search can only match or beat the defaults on the tuning rows, and under a budget too
short for a second trial it degrades to the defaults rather than to a random guess.

Example
-------
>>> get_strategy("bayesian").name
'bayesian'
>>> sorted(STRATEGIES)
['bayesian', 'grid', 'hyperband', 'none', 'random']
"""

from __future__ import annotations

import difflib

import optuna

from nnvsml.errors import InputError
from nnvsml.models import space as sp


class Strategy:
    name: str = ""
    description: str = ""
    #: Whether trials report per-epoch / per-round scores and may be stopped early.
    prunes: bool = False

    def sampler(self, space: sp.Space, seed: int) -> optuna.samplers.BaseSampler:
        raise NotImplementedError

    def pruner(self) -> optuna.pruners.BasePruner:
        return optuna.pruners.NopPruner()

    def max_trials(self, space: sp.Space) -> int | None:
        """The most trials this strategy can run on ``space`` (None: unbounded)."""
        return None


class NoSearch(Strategy):
    name = "none"
    description = "no tuning: every candidate runs with its declared defaults"


class GridSearch(Strategy):
    name = "grid"
    description = "every point of the small grid each candidate declares, in a seeded order"

    def sampler(self, space, seed):
        return optuna.samplers.GridSampler(sp.grid(space), seed=seed)

    def max_trials(self, space):
        return sp.grid_size(space)


class RandomSearch(Strategy):
    name = "random"
    description = "independent random draws from each candidate's search space"

    def sampler(self, space, seed):
        return optuna.samplers.RandomSampler(seed=seed)


class BayesianSearch(Strategy):
    name = "bayesian"
    description = ("Tree-structured Parzen Estimator (TPE): each trial is drawn where earlier "
                   "trials scored well")

    def sampler(self, space, seed):
        # Ten random trials (the defaults among them) before TPE models the space: Optuna's
        # default, and the number its authors found robust across benchmarks.
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True)


class HyperbandSearch(Strategy):
    name = "hyperband"
    description = ("random draws, stopped early by Hyperband (successive halving over budgets "
                   "of epochs or boosting rounds); models without such steps are not pruned")
    prunes = True

    def sampler(self, space, seed):
        # Random draws, as in Li et al. (2018): the gain over random search is the pruning alone.
        return optuna.samplers.RandomSampler(seed=seed)

    def pruner(self):
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto",
                                              reduction_factor=3)


STRATEGIES: dict[str, Strategy] = {
    s.name: s for s in (NoSearch(), GridSearch(), RandomSearch(), BayesianSearch(),
                        HyperbandSearch())
}

#: The default of ``--search``; the README says why.
DEFAULT_STRATEGY = "bayesian"


def get_strategy(name: str | Strategy) -> Strategy:
    if isinstance(name, Strategy):
        return name
    try:
        return STRATEGIES[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(STRATEGIES), n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InputError(f"unknown --search strategy '{name}'; {hint}choose from: "
                         f"{', '.join(STRATEGIES)}") from None
