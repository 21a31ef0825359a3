"""Fitting one trial, with the scores Hyperband prunes on.

A network reports the negated validation loss of every epoch (the skorch callback
:class:`~nnvsml.models.neural.callbacks.TrialPruning`); a LightGBM
model reports its first validation metric after every boosting round (LightGBM callback). Both
raise :class:`optuna.TrialPruned` when the pruner says so. Other models have no intermediate
steps and are fitted plainly, whatever the strategy.
"""

from __future__ import annotations

import optuna
from sklearn.pipeline import Pipeline

from nnvsml.models.steps import final_step, is_network
from nnvsml.models.time_bounded import TimeBounded, is_lightgbm


class RoundPruning:
    """LightGBM callback: report the first validation metric (higher is better) each round."""

    order = 25  # before TimeBounded's clock (30), so a pruned round is not also timed

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial

    def __call__(self, env) -> None:
        if not env.evaluation_result_list:
            return
        _, _, value, higher_is_better = env.evaluation_result_list[0][:4]
        step = env.iteration + 1
        self.trial.report(float(value) if higher_is_better else -float(value), step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after boosting round {step}")


def prunable(est) -> str | None:
    """What a trial of ``est`` can be pruned over: "epochs", "boosting rounds" or None."""
    final = final_step(est)
    if is_network(final):
        return "epochs"
    inner = final.estimator if isinstance(final, TimeBounded) else final
    return "boosting rounds" if is_lightgbm(inner) else None


def fit_trial(est, X, y, X_val, y_val, trial: optuna.Trial | None) -> None:
    """Fit ``est`` on (X, y); with a ``trial``, report intermediate scores on (X_val, y_val)."""
    kind = prunable(est) if trial is not None else None
    if kind == "epochs":
        from nnvsml.models.neural.callbacks import TrialPruning

        final_step(est).set_params(callbacks=[("pruning", TrialPruning(trial))])
        est.fit(X, y)
    elif kind == "boosting rounds":
        # LightGBM scores its validation rows itself each round, so they must reach it encoded
        # the way the pipeline's own steps encode the training rows.
        if isinstance(est, Pipeline) and len(est.steps) > 1:
            head = est[:-1]
            Xt = head.fit_transform(X, y)
            Xv = head.transform(X_val)
        else:
            Xt, Xv = X, X_val
        final_step(est).fit(Xt, y, eval_X=(Xv,), eval_y=(y_val,),
                            callbacks=[RoundPruning(trial)])
    else:
        est.fit(X, y)
