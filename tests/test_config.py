"""RunConfig: every option of a comparison, its default stated once, its rule checked once."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

import nnvsml
from nnvsml import api
from nnvsml.cli import main
from nnvsml.config import DEFAULT_BUDGET, DEFAULT_DEMO_BUDGET, RunConfig
from nnvsml.errors import InputError
from nnvsml.evidence import ANALYSES

FIELDS = [f.name for f in dataclasses.fields(RunConfig)]

# One bad value (or more) per option, and a fragment of the message it must give.
BAD = [
    ("target", 1.5, "--target must be a column name"),
    ("budget", 0, "--budget must be a positive number of seconds, got 0"),
    ("budget", -5, "--budget must be a positive number of seconds, got -5"),
    ("budget", float("inf"), "--budget must be a positive"),
    ("budget", "soon", "--budget must be a positive"),
    ("seed", -1, "--seed must be a whole number"),
    ("seed", 1.5, "--seed must be a whole number"),
    ("task", "regresion", "unknown task 'regresion'"),
    ("modality", "video", "unknown modality 'video'"),
    ("out", 5, "--out must be a directory path"),
    ("models", "lightgmb", "did you mean 'lightgbm'"),
    ("models", 3, "--models must be a name or a list of names"),
    ("families", "deep", "unknown family 'deep'"),
    ("cv_folds", 1, "--cv-folds must be between 2 and 20, got 1"),
    ("cv_folds", 21, "--cv-folds must be between 2 and 20, got 21"),
    ("cv_folds", 2.5, "--cv-folds must be between 2 and 20"),
    ("validation", "kfold", "--validation must be one of auto, cv, holdout, got 'kfold'"),
    ("test_fraction", 0.9, "--test-fraction must be between 0.05 and 0.5, got 0.9"),
    ("test_fraction", 0.01, "--test-fraction must be between 0.05 and 0.5"),
    ("metric", 5, "--metric must be the name of a metric"),
    ("max_memory_mb", 0, "--max-memory-mb must be a positive number of MB, got 0"),
    ("in_memory_rows", 999, "--in-memory-rows must be a whole number of at least 1000"),
    ("in_memory_rows", 2.5, "--in-memory-rows must be a whole number of at least 1000"),
    ("retry_failed", "yes", "--retry-failed must be true or false"),
    ("search", "baysian", "did you mean 'bayesian'"),
    ("executor", "raylet", "unknown executor 'raylet'"),
    ("trials", 0, "--trials must be a whole number of at least 1, got 0"),
    ("trials", 2.5, "--trials must be a whole number of at least 1"),
    ("trials", True, "--trials must be a whole number of at least 1"),
    ("storage", "studies.db", "--storage must be a database URL"),
    ("storage", 5, "--storage must be a database URL"),
    ("mlflow", "mlruns", "--mlflow must be a tracking server URL"),
    ("mlflow", 5, "--mlflow must be a tracking server URL"),
    ("ray_address", 6379, "--ray-address must be auto or HOST:PORT"),
    ("analyses", "learning", "unknown analysis 'learning'"),
    ("analysis_budget", 0, "--analysis-budget must be a positive number of seconds, got 0"),
    ("priority", "sped", "did you mean 'speed'"),
    ("max_latency_ms", -1, "--max-latency-ms must be a positive number"),
    ("max_train_seconds", 0, "--max-train-seconds must be a positive number"),
    ("max_model_mb", "big", "--max-model-mb must be a positive number"),
    ("require_explanations", "yes", "require_explanations must be true or false"),
    ("report", "no", "--report must be true or false"),
    ("name", 5, "the run's name must be text"),
    ("evaluate_with", 1.5, "--evaluate-with must be a column name"),
    ("contamination", 0.0, "--contamination must be a share"),
    ("clusters", 1, "--clusters must be a whole number from 2"),
    ("unlabeled", "keep", "--unlabeled must be drop or use"),
]


@pytest.mark.parametrize("field, value, message", BAD)
def test_each_rule_rejects_a_bad_value_in_one_line(field, value, message):
    with pytest.raises(InputError) as err:
        RunConfig(**{field: value})
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_every_option_has_a_rule_and_a_bad_value_tested():
    assert set(RunConfig._parameter_constraints) == set(FIELDS)
    assert {field for field, _, _ in BAD} == set(FIELDS)


@pytest.mark.parametrize("options, message", [
    ({"search": "none", "trials": 5}, "--trials counts tuning trials, but --search is none"),
    ({"search": "none", "storage": "sqlite:///x.db"}, "--storage holds tuning studies"),
])
def test_rules_across_options(options, message):
    with pytest.raises(InputError, match=message):
        RunConfig.build(**options)


def test_defaults_are_the_documented_ones():
    c = RunConfig()
    assert (DEFAULT_BUDGET, DEFAULT_DEMO_BUDGET) == (300.0, 120.0)
    assert api.DEFAULT_BUDGET is DEFAULT_BUDGET and api.DEFAULT_DEMO_BUDGET is DEFAULT_DEMO_BUDGET
    assert c.budget is None and c.seed == 0 and c.target is None and c.out is None
    assert c.task is None and c.modality is None and c.models is None and c.families is None
    assert (c.cv_folds, c.validation, c.test_fraction) == (5, "auto", 0.2)
    assert (c.search, c.trials, c.storage) == ("bayesian", None, None)
    assert c.analyses == tuple(ANALYSES) and c.analysis_budget is None
    assert (c.priority, c.constraints, c.require_explanations) == ("accuracy", {}, False)
    assert c.report is True and c.retry_failed is False and c.metric is None
    assert c == RunConfig.build() == RunConfig(analyses=None)


def test_budget_default_depends_on_the_data():
    assert RunConfig().with_data_defaults(None).budget == DEFAULT_DEMO_BUDGET
    assert RunConfig().with_data_defaults("data.csv").budget == DEFAULT_BUDGET
    assert RunConfig(budget=60).with_data_defaults(None).budget == 60
    assert RunConfig(trials=3).with_data_defaults("data.csv").budget is None  # no cap


def test_frozen():
    c = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.seed = 3
    changed = dataclasses.replace(c, seed=3)
    assert changed.seed == 3 and c.seed == 0
    with pytest.raises(InputError, match="--cv-folds"):
        dataclasses.replace(c, cv_folds=0)  # a changed copy is checked too


def test_values_are_stored_normalised():
    c = RunConfig.build(models="lightgbm, mlp", families=["neural"], out="runs/x", budget=60,
                        task="Binary", modality="auto", analyses=["energy,learning_curve"],
                        max_latency_ms=5, require_explanations=True, cv_folds=3)
    assert c.models == ("lightgbm", "mlp") and c.families == ("neural",)
    assert c.out == Path("runs/x") and c.budget == 60.0 and isinstance(c.budget, float)
    assert c.task == "binary" and c.modality is None
    assert c.analyses == ("energy", "learning_curve")  # in run order
    assert c.constraints == {"max_latency_ms": 5.0, "require_explanations": True}
    assert c == RunConfig.build(models=["lightgbm", "mlp"], families="neural",
                                out=Path("runs/x"), budget=60.0, task="binary",
                                analyses="energy,learning_curve", max_latency_ms=5.0,
                                require_explanations=True, cv_folds=3)
    assert RunConfig(analyses="none").analyses == ()


def test_unknown_option_names_the_closest():
    with pytest.raises(TypeError, match="did you mean 'budget'"):
        RunConfig.build(budgt=60)
    with pytest.raises(TypeError, match="did you mean 'budget'"):
        nnvsml.compare(None, budgt=60)


def test_making_a_config_does_not_open_the_storage(tmp_path):
    path = tmp_path / "studies.db"
    c = RunConfig(storage=f"sqlite:///{path}")
    assert not path.exists()
    c.check_storage()
    assert path.exists()


class _Stop(Exception):
    pass


@pytest.fixture()
def captured(monkeypatch):
    """The config each comparison is started with; nothing is read or trained."""
    seen = []

    def fake_run(dataset, config, *, reporter=None, started=None, protocol=None,
                 candidates=None):
        seen.append(config)
        raise _Stop

    monkeypatch.setattr("nnvsml.comparison.run_comparison", fake_run)
    monkeypatch.setattr("nnvsml.api.load_dataset", lambda data, **kwargs: SimpleNamespace(
        task="binary", modality="tabular", n_unlabelled=0))
    monkeypatch.setattr("nnvsml.protocol.make_protocol", lambda dataset, **kwargs: object())
    monkeypatch.setattr("nnvsml.models.select", lambda *args, **kwargs: [])
    return seen


def _run(call):
    with pytest.raises(_Stop):
        call()


def test_command_line_and_python_give_equal_configs(captured, tmp_path):
    data = str(tmp_path / "data.csv")
    _run(lambda: main(["compare", data, "-q"]))
    _run(lambda: nnvsml.compare(data))
    _run(lambda: main(["compare", "-q"]))
    _run(lambda: nnvsml.compare())
    args = ["--target", "y", "--budget", "60", "--seed", "3", "--task", "binary",
            "--modality", "tabular", "--out", str(tmp_path / "r"), "--models", "lightgbm,mlp",
            "--families", "neural", "--families", "traditional", "--cv-folds", "4",
            "--validation", "cv", "--test-fraction", "0.25", "--metric", "f1_macro",
            "--max-memory-mb", "1000", "--retry-failed", "--search", "random", "--trials", "7",
            "--analyses", "overfitting,energy", "--analysis-budget", "30", "--priority", "speed",
            "--max-latency-ms", "5", "--max-train-seconds", "9", "--max-model-mb", "2",
            "--require-explanations", "--no-report", "--unlabeled", "use"]
    options = dict(
        target="y", budget=60, seed=3, task="binary", modality="tabular", out=tmp_path / "r",
        models=["lightgbm", "mlp"], families=["neural", "traditional"], cv_folds=4,
        validation="cv", test_fraction=0.25, metric="f1_macro", max_memory_mb=1000,
        retry_failed=True, search="random", trials=7, analyses=["overfitting", "energy"],
        analysis_budget=30, priority="speed", max_latency_ms=5, max_train_seconds=9,
        max_model_mb=2, require_explanations=True, report=False, unlabeled="use")
    _run(lambda: main(["compare", data, *args, "-q"]))
    _run(lambda: nnvsml.compare(data, **options))
    _run(lambda: nnvsml.compare(data, config=RunConfig.build(**options)))
    cli_default, py_default, cli_demo, py_demo, cli, py, whole = captured
    assert cli_default == py_default == RunConfig(budget=DEFAULT_BUDGET)
    assert cli_demo == py_demo == RunConfig(budget=DEFAULT_DEMO_BUDGET)
    assert cli == py == whole
    assert cli.constraints == {"max_latency_ms": 5.0, "max_train_seconds": 9.0,
                               "max_model_mb": 2.0, "require_explanations": True}


def test_config_and_keywords_are_not_mixed(captured):
    with pytest.raises(TypeError, match="not both"):
        nnvsml.compare(None, budget=60, config=RunConfig())
    with pytest.raises(TypeError, match="RunConfig"):
        nnvsml.compare(None, config={"budget": 60})
    assert not captured
