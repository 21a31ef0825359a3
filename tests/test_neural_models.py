"""The neural architectures and their scikit-learn estimators, judged by real outcomes."""

from __future__ import annotations

import doctest
import time

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.metrics import log_loss, r2_score
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator
from skorch.dataset import Dataset
from torch.utils.data import Subset

from nnvsml.models.neural import (
    ARCHITECTURES,
    MLP,
    FTTransformer,
    TabularNetClassifier,
    TabularNetRegressor,
    estimator,
)
from nnvsml.models.neural.loader import BatchIterator

# Small budgets keep the file fast; every model below still has to reach a real score.
FAST = {"max_epochs": 40, "patience": 8}


def _scaled_split(X, y):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.fixture(scope="module")
def breast_cancer():
    return _scaled_split(*load_breast_cancer(return_X_y=True))


@pytest.fixture(scope="module")
def wine_strings():
    X, y = load_wine(return_X_y=True)
    labels = np.array(["barolo", "grignolino", "barbera"])[y]
    return _scaled_split(X, labels)


@pytest.fixture(scope="module")
def mlp_breast_cancer(breast_cancer):
    X_train, _, y_train, _ = breast_cancer
    return TabularNetClassifier(**FAST).fit(X_train, y_train)


@pytest.fixture(scope="module")
def wine_model(wine_strings):
    X_train, _, y_train, _ = wine_strings
    return TabularNetClassifier(**FAST).fit(X_train, y_train)


def _categorical_problem(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """The label is a function of one categorical column only; numeric columns are noise."""
    rng = np.random.default_rng(seed)
    color = rng.integers(1, 13, n)
    X = pd.DataFrame(
        {
            "num__a": rng.standard_normal(n),
            "cat__color": color,
            "num__b": rng.standard_normal(n),
            "cat__noise": rng.integers(0, 5, n),
        }
    )
    y = np.where(np.isin(color, [1, 4, 5, 8, 11, 12]), "yes", "no")
    return X, y


@pytest.fixture(scope="module")
def categorical_problem():
    X, y = _categorical_problem()
    return X.iloc[:1000], X.iloc[1000:], y[:1000], y[1000:]


@pytest.fixture(scope="module")
def mlp_categorical(categorical_problem):
    X_train, _, y_train, _ = categorical_problem
    return TabularNetClassifier(**FAST).fit(X_train, y_train)


# ---- architectures -------------------------------------------------------------------------


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize(("n_num", "cards"), [(3, [4, 2, 7]), (0, [4, 2]), (5, [])])
def test_module_shapes_and_gradients(arch, n_num, cards):
    torch.manual_seed(0)
    module = ARCHITECTURES[arch](n_num, cards, 3)
    x_num = torch.randn(8, n_num)
    x_cat = (
        torch.stack([torch.randint(0, c, (8,)) for c in cards], dim=1)
        if cards
        else torch.zeros(8, 0).long()
    )
    out = module(x_num, x_cat)
    assert out.shape == (8, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in module.parameters())


@pytest.mark.parametrize("arch", [MLP, FTTransformer])
def test_module_without_inputs_is_rejected(arch):
    with pytest.raises(ValueError, match="at least one"):
        arch(0, [], 2)


def test_mlp_hyperparameters():
    module = MLP(4, [10, 1000], 2, hidden_sizes=(64, 32, 16), norm="layernorm")
    assert [e.embedding_dim for e in module.embeddings] == [6, 32]
    assert [m.out_features for m in module.blocks if isinstance(m, torch.nn.Linear)] == [64, 32, 16]
    assert any(isinstance(m, torch.nn.LayerNorm) for m in module.blocks)
    with pytest.raises(ValueError, match="norm"):
        MLP(4, [], 2, norm="groupnorm")


# ---- batch iterator ------------------------------------------------------------------------


def test_batch_iterator_slices_subsets_and_shuffles_reproducibly():
    X = {"x_num": torch.arange(20.0).reshape(10, 2), "x_cat": torch.arange(10).reshape(10, 1)}
    subset = Subset(Dataset(X, torch.arange(10) * 10), np.array([7, 1, 4, 9, 2]))

    batches = list(BatchIterator(subset, batch_size=2))
    assert [len(yb) for _, yb in batches] == [2, 2, 1]
    assert torch.cat([yb for _, yb in batches]).tolist() == [70, 10, 40, 90, 20]
    assert torch.cat([xb["x_cat"] for xb, _ in batches]).ravel().tolist() == [7, 1, 4, 9, 2]

    def epoch(seed: int) -> list[int]:
        return torch.cat(
            [yb for _, yb in BatchIterator(subset, batch_size=3, shuffle=True, seed=seed)]
        ).tolist()

    assert sorted(epoch(0)) == [10, 20, 40, 70, 90]
    assert epoch(0) == epoch(0)
    # A trailing one-row batch would break BatchNorm in training, so it is dropped.
    assert [len(yb) for _, yb in BatchIterator(subset, batch_size=4, shuffle=True, seed=0)] == [4]


# ---- outcomes ------------------------------------------------------------------------------


def test_mlp_classifier_breast_cancer(breast_cancer, mlp_breast_cancer):
    _, X_test, _, y_test = breast_cancer
    assert mlp_breast_cancer.score(X_test, y_test) >= 0.93


def test_ft_transformer_classifier_breast_cancer(breast_cancer):
    X_train, X_test, y_train, y_test = breast_cancer
    model = TabularNetClassifier(arch="ft_transformer", batch_size=128, max_epochs=25, patience=8)
    assert model.fit(X_train, y_train).score(X_test, y_test) >= 0.93


def test_multiclass_with_string_labels(wine_strings, wine_model):
    _, X_test, _, y_test = wine_strings
    assert wine_model.score(X_test, y_test) > 0.85


def test_regressor_diabetes():
    # 442 noisy rows: one small test split is a coin toss, so held-out R2 is averaged over 3 folds
    # (ridge regression scores about 0.49 here).
    X, y = load_diabetes(return_X_y=True)
    r2s = []
    for train, test in KFold(3, shuffle=True, random_state=0).split(X):
        model = make_pipeline(StandardScaler(), TabularNetRegressor(max_epochs=100)).fit(
            X[train], y[train]
        )
        prediction = model.predict(X[test])
        assert prediction.shape == (len(test),) and prediction.dtype == np.float64
        # Standardized internally, reported on the original scale.
        assert abs(prediction.mean() - y[train].mean()) < 0.2 * y[train].std()
        r2s.append(r2_score(y[test], prediction))
    assert np.mean(r2s) >= 0.3


def test_mlp_learns_from_a_categorical_column(categorical_problem, mlp_categorical):
    _, X_test, _, y_test = categorical_problem
    assert mlp_categorical.cat_columns_ == ["cat__color", "cat__noise"]
    assert mlp_categorical.n_num_ == 2
    assert mlp_categorical.cat_cardinalities_ == [13, 5]
    assert mlp_categorical.score(X_test, y_test) >= 0.95


def test_ft_transformer_learns_from_a_categorical_column(categorical_problem):
    X_train, X_test, y_train, y_test = categorical_problem
    model = TabularNetClassifier(arch="ft_transformer", max_epochs=25, patience=5).fit(
        X_train, y_train
    )
    assert model.score(X_test, y_test) >= 0.95


def test_unseen_missing_and_negative_codes_are_the_unknown_level(
    categorical_problem, mlp_categorical
):
    _, X_test, _, _ = categorical_problem
    odd = X_test.iloc[:4].copy()
    odd["cat__color"] = [99, -3, np.nan, 0]
    odd["num__a"] = [np.nan, np.inf, 0.0, 0.0]
    as_unknown = odd.assign(cat__color=0, num__a=0.0)
    np.testing.assert_array_equal(
        mlp_categorical.predict_proba(odd), mlp_categorical.predict_proba(as_unknown)
    )


def test_columns_must_match_those_seen_in_fit(categorical_problem, mlp_categorical):
    _, X_test, _, _ = categorical_problem
    with pytest.raises(ValueError, match="feature names"):
        mlp_categorical.predict(X_test[X_test.columns[::-1]])
    with pytest.raises(ValueError, match="cat__noise"):
        mlp_categorical.predict(X_test.drop(columns="cat__noise"))


# ---- training protocol ---------------------------------------------------------------------


def test_fitted_attributes(mlp_breast_cancer):
    model = mlp_breast_cancer
    assert model.n_epochs_ == len(model.history_) <= FAST["max_epochs"]
    assert [set(row) for row in model.history_] == [
        {"epoch", "train_loss", "valid_loss", "dur", "lr"}
    ] * model.n_epochs_
    assert [row["epoch"] for row in model.history_] == list(range(1, model.n_epochs_ + 1))
    assert 1 <= model.best_epoch_ <= model.n_epochs_
    assert model.stopped_by_ in {"early_stopping", "max_epochs"}
    assert model.device_ == ("cuda" if torch.cuda.is_available() else "cpu")
    assert model.n_parameters_ == sum(p.numel() for p in model.net_.module_.parameters()) > 0
    assert model.history_[0]["lr"] == model.lr
    np.testing.assert_array_equal(model.classes_, [0, 1])


def test_time_limit_stops_training_gracefully():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4000, 20)), rng.integers(0, 2, 4000)
    model = TabularNetClassifier(max_time=1.0, max_epochs=100_000, patience=100_000)
    started = time.perf_counter()
    model.fit(X, y)
    assert time.perf_counter() - started < 3.0
    assert model.stopped_by_ == "time_limit"
    assert 1 <= model.best_epoch_ <= model.n_epochs_ < 100_000
    assert model.predict(X[:5]).shape == (5,)


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((200, 10)), rng.integers(0, 2, 200)
    model = TabularNetClassifier(patience=3, max_epochs=200, lr=1e-2).fit(X, y)
    assert model.stopped_by_ == "early_stopping"
    assert model.n_epochs_ == model.best_epoch_ + 3 < 200
    valid_losses = [row["valid_loss"] for row in model.history_]
    best_loss = valid_losses[model.best_epoch_ - 1]
    assert best_loss <= min(valid_losses) * (1 + 1e-3)
    # The weights in use are those of the best epoch: re-scoring the validation rows gives its loss.
    _, valid = model.net_.train_split(np.arange(len(y)), y)
    assert log_loss(y[valid.indices], model.predict_proba(X[valid.indices])) == pytest.approx(
        best_loss, rel=1e-4
    )


def test_a_users_interrupt_is_not_swallowed(monkeypatch):
    calls = 0
    forward = MLP.forward

    def interrupted_forward(self, x_num, x_cat):
        nonlocal calls
        calls += 1
        if calls == 5:
            raise KeyboardInterrupt
        return forward(self, x_num, x_cat)

    monkeypatch.setattr(MLP, "forward", interrupted_forward)
    X, y = np.random.default_rng(0).standard_normal((600, 3)), np.arange(600) % 2
    with pytest.raises(KeyboardInterrupt):
        TabularNetClassifier(batch_size=64, max_epochs=50).fit(X, y)


@pytest.mark.parametrize(("schedule", "decreases"), [("cosine", True), (None, False)])
def test_lr_schedules(schedule, decreases):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((300, 5)), rng.standard_normal(300)
    model = TabularNetRegressor(lr_schedule=schedule, max_epochs=5, patience=10).fit(X, y)
    lrs = [row["lr"] for row in model.history_]
    assert lrs[0] == model.lr
    assert (lrs[-1] < lrs[0]) is decreases


def test_invalid_hyperparameters_are_rejected():
    X, y = np.zeros((20, 2)), np.arange(20) % 2
    for params, message in [
        ({"arch": "resnet"}, "arch"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"valid_fraction": 0}, "valid_fraction"),
    ]:
        with pytest.raises(ValueError, match=message):
            TabularNetClassifier(**params).fit(X, y)
    with pytest.raises(ValueError, match="one class"):
        TabularNetClassifier().fit(X, np.zeros(20))


def test_arch_params_reach_the_module():
    X, y = np.random.default_rng(0).standard_normal((100, 4)), np.arange(100) % 2
    model = TabularNetClassifier(
        arch="ft_transformer",
        arch_params={"d_token": 16, "n_heads": 2, "n_layers": 1},
        max_epochs=1,
    ).fit(X, y)
    assert model.net_.module_.cls_token.shape == (16,)
    assert len(model.net_.module_.blocks) == 1


def test_rare_class_falls_back_to_an_unstratified_split():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 3)), np.array(["a"] * 30 + ["b"] * 29 + ["c"])
    model = TabularNetClassifier(max_epochs=2).fit(X, y)
    np.testing.assert_array_equal(model.classes_, ["a", "b", "c"])
    assert model.predict_proba(X).shape == (60, 3)


def test_explicit_thread_setting_is_respected(monkeypatch, wine_strings):
    X_train, _, y_train, _ = wine_strings
    calls: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    TabularNetClassifier(max_epochs=1).fit(X_train, y_train)
    assert calls == []
    monkeypatch.delenv("OMP_NUM_THREADS")
    TabularNetClassifier(max_epochs=1).fit(X_train, y_train)
    assert calls and calls[0] >= 1


# ---- scikit-learn contract -----------------------------------------------------------------


def test_predict_proba_matches_classes(wine_strings, wine_model):
    _, X_test, y_train, _ = wine_strings
    proba = wine_model.predict_proba(X_test)
    np.testing.assert_array_equal(wine_model.classes_, np.unique(y_train))
    assert proba.shape == (len(X_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(
        wine_model.predict(X_test), wine_model.classes_[proba.argmax(axis=1)]
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize(
    "model", [TabularNetClassifier(max_epochs=3), TabularNetRegressor(max_epochs=3)], ids=repr
)
def test_scikit_learn_estimator_checks(model):
    # Three epochs keep the ~40 checks fast; too few for the "fits its training data" check,
    # which passes with the default budget.
    check_estimator(
        model, expected_failed_checks={"check_regressors_train": "3 epochs are too few"}
    )


def test_clone_and_get_params_round_trip(mlp_breast_cancer):
    model = TabularNetRegressor(
        arch="ft_transformer",
        arch_params={"d_token": 32},
        lr=3e-4,
        lr_schedule=None,
        max_time=5.0,
        grad_clip=None,
    )
    params = model.get_params()
    assert params["arch_params"] == {"d_token": 32} and params["lr_schedule"] is None
    assert clone(model).get_params() == params
    assert TabularNetRegressor(**params).get_params() == params
    assert TabularNetClassifier().set_params(patience=3).patience == 3

    fresh = clone(mlp_breast_cancer)
    assert fresh.get_params() == mlp_breast_cancer.get_params()
    assert not hasattr(fresh, "net_") and not hasattr(fresh, "classes_")


def test_joblib_round_trip(tmp_path, breast_cancer, mlp_breast_cancer):
    _, X_test, _, _ = breast_cancer
    path = tmp_path / "model.joblib"
    joblib.dump(mlp_breast_cancer, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), mlp_breast_cancer.predict_proba(X_test)
    )
    assert (
        loaded.history_ == mlp_breast_cancer.history_
        and loaded.stopped_by_ == mlp_breast_cancer.stopped_by_
    )


def test_same_seed_same_model(wine_strings):
    X_train, X_test, y_train, _ = wine_strings

    def proba(seed: int) -> np.ndarray:
        return (
            TabularNetClassifier(max_epochs=5, random_state=seed)
            .fit(X_train, y_train)
            .predict_proba(X_test)
        )

    np.testing.assert_array_equal(proba(1), proba(1))
    assert not np.array_equal(proba(1), proba(2))


def test_fit_leaves_the_global_torch_rng_alone(wine_strings):
    X_train, _, y_train, _ = wine_strings
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    TabularNetClassifier(max_epochs=1).fit(X_train, y_train)
    assert torch.equal(torch.rand(3), expected)


def test_docstring_examples_run():
    result = doctest.testmod(estimator, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
