"""Tuning: the declared search spaces, every strategy on every modality, pruning, resuming a
study, and the options that must fail with one line."""

from __future__ import annotations

import time

import numpy as np

from nnvsml.timing import TimeBudget
import optuna
import pytest
from makedata import write_digits_png, write_sms_csv, write_tones_wav, write_ucr

from nnvsml.data import load_dataset
from nnvsml.errors import InputError
from nnvsml.models import REGISTRY, BuildContext
from nnvsml.protocol.splits import make_protocol
from nnvsml.models import space as sp
from nnvsml.tuning.strategies import STRATEGIES, get_strategy
from nnvsml.tuning.tuner import TuningPlan, tune

INFO = {"image": {"height": 8, "width": 8, "channels": 1}, "sequence": {"length": 50},
        "audio": {}, "text": {}, "tabular": {}}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_candidate_declares_a_sound_space(name):
    cand = REGISTRY[name]
    if name == "rocket_ridge":  # ridge's penalty is chosen by leave-one-out inside every fit
        assert cand.space == {}
        return
    assert cand.space, f"{name} declares no search space"
    for dim_name, dim in cand.space.items():
        assert dim.contains(dim.default), (dim_name, dim)
        for value in dim.grid:
            assert dim.contains(value), (dim_name, value)
        assert not dim.grid or dim.default in dim.grid, f"{dim_name}: the grid must hold the default"
    assert 1 <= sp.grid_size(cand.space) <= 36
    # A drawn configuration builds, and reaches the estimator (not only the defaults).
    task = "binary" if "binary" in cand.tasks else "regression"
    modality = sorted(cand.modalities)[0]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    params = sp.suggest(trial, cand.space)
    ctx = BuildContext(task=task, kinds={"a": "numeric", "b": "categorical"}, n_train=500,
                       modality=modality, info=INFO[modality], params=params)
    est = cand.build(ctx)
    flat = repr(est.get_params())
    changed = [k for k, v in params.items() if v != cand.space[k].default and isinstance(v, float)]
    for key in changed[:1]:
        assert f"{params[key]!r}"[:6] in flat, (key, params[key])


def test_unknown_strategy_suggests_the_closest():
    with pytest.raises(InputError, match="did you mean 'bayesian'"):
        get_strategy("baysian")


# --- every strategy on every modality ----------------------------------------------------------

def _dataset(modality: str, tmp_path):
    if modality == "tabular":
        from sklearn.datasets import load_breast_cancer

        return load_dataset(load_breast_cancer(as_frame=True).frame, target="target")
    if modality == "image":
        return load_dataset(str(write_digits_png(tmp_path / "img", n_per_class=12)))
    if modality == "text":
        return load_dataset(str(write_sms_csv(tmp_path / "sms.csv", 120)))
    if modality == "sequence":
        return load_dataset(str(write_ucr(tmp_path / "ucr", "GunPoint", 50, 30)))
    return load_dataset(str(write_tones_wav(tmp_path / "wav", n_per_class=12)))


CHEAP = {"tabular": ("logistic_regression", "mlp"), "image": ("lightgbm_pixels", "cnn"),
         "text": ("tfidf_naive_bayes", "text_cnn"), "sequence": ("summary_lightgbm", "fcn"),
         "audio": ("mfcc_random_forest", "audio_cnn")}


def _tune(dataset, cand, strategy, tmp_path, trials=None, seconds=None, prefix="t"):
    protocol = make_protocol(dataset, seed=0, cv_folds=3, budget_seconds=60)

    def ctx(params, max_time):
        return BuildContext(task=dataset.task, kinds=dataset.kinds(),
                            n_train=len(protocol.train_idx), seed=0,
                            max_time=max_time if cand.time_aware else None,
                            modality=dataset.modality, info=dataset.info, params=params)

    plan = TuningPlan(strategy, trials=trials, storage=f"sqlite:///{tmp_path}/studies.db",
                      study_prefix=prefix)
    return tune(cand, plan, X=dataset.X, y=np.asarray(dataset.y), split=protocol.tuning_split,
                task=dataset.task, classes=dataset.classes, metric=protocol.primary_metric,
                seed=0, make_ctx=ctx,
                budget=None if seconds is None else TimeBudget(seconds),
                trial_max_time=None if seconds is None else 0.5)


@pytest.mark.parametrize("modality", ["tabular", "image", "text", "sequence", "audio"])
def test_every_strategy_tunes_both_families_of_every_modality(modality, tmp_path):
    import nnvsml.models.neural  # noqa: F401  (torch's import is not a trial's time)

    dataset = _dataset(modality, tmp_path)
    trad, neural = (REGISTRY[n] for n in CHEAP[modality])
    for strategy in STRATEGIES:
        # Traditional: by count, exactly. Networks: by the clock, as under --budget.
        for cand, kwargs in ((trad, {"trials": 2}), (neural, {"seconds": 2.5})):
            rec = _tune(dataset, cand, strategy, tmp_path, prefix=f"{modality}-{strategy}",
                        **kwargs)
            assert rec["strategy"] == strategy
            assert set(rec["best_params"]) == set(cand.space)
            for key, value in rec["best_params"].items():
                assert cand.space[key].contains(value), (key, value)
            if strategy == "none":
                assert rec["trials"] == 0 and rec["best_params"] == sp.defaults(cand.space)
                continue
            assert rec["completed"] >= 1, rec
            if "trials" in kwargs:
                assert rec["trials"] == min(2, STRATEGIES[strategy].max_trials(cand.space) or 2)
            # The defaults are the first trial, so the best is never worse than them.
            assert rec["default_score"] is not None and rec["best_score"] >= rec["default_score"]
            assert rec["history"][0][1] == rec["default_score"]


def test_hyperband_prunes_boosting_rounds_and_epochs(tmp_path):
    from sklearn.datasets import load_breast_cancer

    dataset = load_dataset(load_breast_cancer(as_frame=True).frame, target="target")
    rec = _tune(dataset, REGISTRY["lightgbm"], "hyperband", tmp_path, trials=12, prefix="hb")
    assert rec["pruned_over"] == "boosting rounds"
    assert rec["trials"] == 12 and rec["pruned"] >= 1, rec
    study = optuna.load_study(study_name="hb:lightgbm", storage=f"sqlite:///{tmp_path}/studies.db")
    # Every trial reported its validation score round by round.
    assert all(len(t.intermediate_values) >= 1 for t in study.trials)
    rec = _tune(dataset, REGISTRY["mlp"], "hyperband", tmp_path, seconds=3.0, prefix="hb")
    assert rec["pruned_over"] == "epochs"
    study = optuna.load_study(study_name="hb:mlp", storage=f"sqlite:///{tmp_path}/studies.db")
    assert all(len(t.intermediate_values) >= 1 for t in study.trials if t.state.name != "FAIL")


def test_a_study_resumes_and_counts_only_finished_trials(tmp_path):
    from sklearn.datasets import load_breast_cancer

    dataset = load_dataset(load_breast_cancer(as_frame=True).frame, target="target")
    cand = REGISTRY["logistic_regression"]
    first = _tune(dataset, cand, "random", tmp_path, trials=2, prefix="resume")
    assert first["trials"] == 2
    # A trial left running by a process that died holds no result and does not count.
    study = optuna.load_study(study_name="resume:logistic_regression",
                              storage=f"sqlite:///{tmp_path}/studies.db")
    study.ask()
    again = _tune(dataset, cand, "random", tmp_path, trials=4, prefix="resume")
    assert again["trials"] == 4 and again["completed"] == 4
    assert again["history"][:2] == first["history"][:2]  # the first two trials are kept


def build_indifferent(ctx):
    """A model its one hyperparameter does not change: every trial scores the same."""
    from sklearn.dummy import DummyClassifier

    ctx.hyper(INDIFFERENT_SPACE)
    return DummyClassifier(strategy="prior")


INDIFFERENT_SPACE = {"unused": sp.Float(0.0, 1.0, default=0.5)}


def test_a_stalled_search_stops_and_leaves_its_time(tmp_path):
    from sklearn.datasets import load_breast_cancer

    from nnvsml.models import Candidate
    from nnvsml.tuning.tuner import STALL_TRIALS

    cand = Candidate("indifferent", "traditional", frozenset({"binary"}), build_indifferent,
                     "a model whose tuning cannot help", space=INDIFFERENT_SPACE)
    dataset = load_dataset(load_breast_cancer(as_frame=True).frame, target="target")
    start = time.monotonic()
    rec = _tune(dataset, cand, "random", tmp_path, seconds=120.0, prefix="stall")
    # The defaults, then STALL_TRIALS trials that could not beat them: the rest of the two
    # minutes is left unused.
    assert rec["trials"] == STALL_TRIALS + 1
    assert rec["stopped"] == f"no better score in the last {STALL_TRIALS} trials"
    assert time.monotonic() - start < 60
    # Counted trials are not cut short: under --trials every one of them runs.
    rec = _tune(dataset, cand, "random", tmp_path, trials=STALL_TRIALS + 5, prefix="count")
    assert rec["trials"] == STALL_TRIALS + 5 and "stopped" not in rec


def test_a_storage_whose_tables_another_worker_is_creating_is_opened_on_the_next_try(
        monkeypatch):
    import optuna

    from nnvsml.errors import InputError
    from nnvsml.tuning import storage

    calls = []

    def racing(url, **kwargs):
        calls.append(url)
        if len(calls) == 1:  # what PostgreSQL says to the loser of two CREATE TABLEs
            raise RuntimeError('(psycopg.errors.UniqueViolation) duplicate key value violates '
                               'unique constraint "pg_type_typname_nsp_index"')
        return "opened"

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    assert storage.open_storage("postgresql+psycopg://u@127.0.0.1:1/db") == "opened"
    assert len(calls) == 2

    def refused(url, **kwargs):
        calls.append(url)
        raise RuntimeError("connection refused")

    calls.clear()
    monkeypatch.setattr(optuna.storages, "RDBStorage", refused)
    with pytest.raises(InputError, match="connection refused"):
        storage.open_storage("postgresql+psycopg://u@127.0.0.1:1/db")
    assert len(calls) == 1  # any other error is the user's, at once
