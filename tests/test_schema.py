"""The JSON Schema of results.json and the typed records: round trips that lose nothing, and
violations reported by their JSON path. (Every results.json the suite writes is also validated,
by the fixture in conftest.py.)"""

from __future__ import annotations

import copy
import json

import pytest

from nnvsml.artifacts import sign

from nnvsml.comparison import _entry
from nnvsml.evidence import energy
from nnvsml.models import REGISTRY
from nnvsml.records import Cost, EvidenceBlock, ModelEntry, Verdict
from nnvsml.results import RunStore
from nnvsml.schema import SCHEMA_PATH, ResultsSchemaError, load_schema, validate
from nnvsml.verdict import decide

METRICS = ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro",
           "roc_auc", "log_loss")


def scores(base: float) -> dict:
    return {m: (0.12 if m == "log_loss" else base) for m in METRICS}


def cv(folds: list[float]) -> dict:
    mean = sum(folds) / len(folds)
    std = (sum((f - mean) ** 2 for f in folds) / (len(folds) - 1)) ** 0.5
    return {m: {"mean": mean, "std": std, "folds": folds} for m in METRICS}


def mlp_entry() -> dict:
    """An entry as a finished network's looks in results.json, the newer keys included."""
    return {
        "name": "mlp", "family": "neural", "status": "ok", "reason": None,
        "description": "feedforward network: categorical embeddings, 2x256 units",
        "explanations": ["gradients"], "time_limit_seconds": 18.856,
        "test": scores(0.965),
        "test_ci": {**{m: {"low": 0.93, "high": 0.99} for m in METRICS}, "roc_auc": None},
        "cv": cv([0.967, 0.978, 0.956, 0.989, 0.978]),
        "cv_train": cv([0.99, 0.991, 0.989, 0.99, 0.992]),
        "cost": {"fit_seconds": 0.3105, "cpu_seconds": 0.5872, "predict_ms_per_1k": 125.61,
                 "peak_memory_mb": 464.5, "model_size_kb": 1720.5,
                 "predict_cpu_ms_per_1k": 158.0, "latency_ms": 13.27, "cv_seconds": 5.31,
                 "wall_seconds": 5.948},
        "params": {"estimator": "TabularNetClassifier", "arch": "mlp",
                   "arch_params": {"dropout": 0.1}, "lr": 0.001, "max_time": None,
                   "preprocessing": "neural"},
        "training": {"n_epochs": 42, "best_epoch": 27, "stopped_by": "early_stopping",
                     "device": "cpu", "n_parameters": 75266},
        "tuning": {"strategy": "bayesian", "trials": 3, "completed": 2, "pruned": 1,
                   "failed": 0, "seconds": 4.2, "best_params": {"lr": 0.003},
                   "history": [[1.5, 0.95], [4.2, 0.961]], "metric": "accuracy",
                   "best_score": 0.961, "default_params": {"lr": 0.001}, "default_score": 0.95,
                   "selection": "best trial", "pruned_over": "epochs",
                   "study": "cancer-0123456789ab:mlp",
                   "tuning_rows": {"train": 291, "validation": 73}},
        "artifacts": {"model": "models/mlp.joblib", "predictions": "predictions/mlp.npz"},
        "evaluation": {"level": "cross_validated", "stage": "improve", "folds": 5,
                       "tuned": True, "trained_rows": 455, "sampled": False, "note": None},
        "validation_blocks": {"accuracy": [0.967, 0.978, None], "log_loss": [0.1, 0.2, 0.3]},
    }


def lr_entry() -> dict:
    return {
        "name": "logistic_regression", "family": "traditional", "status": "ok", "reason": None,
        "description": "L2-regularised logistic regression", "explanations": ["coefficients"],
        "time_limit_seconds": 9.428, "test": scores(0.974),
        "test_ci": {m: {"low": 0.94, "high": 1.0} for m in METRICS},
        "cv": cv([0.978, 1.0, 0.978, 0.989, 0.989]),
        "cv_train": cv([0.99, 0.99, 0.99, 0.99, 0.99]),
        "cost": {"fit_seconds": 0.0141, "cpu_seconds": 0.0261, "predict_ms_per_1k": 57.9,
                 "peak_memory_mb": 183.9, "model_size_kb": 3.5, "predict_cpu_ms_per_1k": 128.1,
                 "latency_ms": 6.86, "cv_seconds": 0.36, "wall_seconds": 1.76},
        "params": {"estimator": "LogisticRegression", "C": 1.0, "preprocessing": "linear"},
        "training": None,
        "tuning": {"strategy": "none", "trials": 0, "seconds": 0.0, "best_params": {"C": 1.0},
                   "history": [], "reason": "--search none: the declared defaults"},
        "artifacts": {"model": "models/logistic_regression.joblib",
                      "predictions": "predictions/logistic_regression.npz"},
    }


def failed_entry() -> dict:
    """What ``_entry`` writes for a candidate that did not finish."""
    return {
        "name": "svm", "family": "traditional", "status": "timeout",
        "reason": "exceeded its time limit of 9.4 s (raise --budget)",
        "description": "support vector machine", "explanations": [], "time_limit_seconds": 9.4,
        "test": {}, "test_ci": {}, "cv": {}, "cv_train": {},
        "cost": {"fit_seconds": None, "cpu_seconds": None, "predict_ms_per_1k": None,
                 "peak_memory_mb": 210.0, "model_size_kb": None, "wall_seconds": 9.5},
        "params": {}, "training": None, "tuning": None, "artifacts": {},
    }


def make_results(priority: str = "accuracy", constraints: dict | None = None) -> dict:
    """A complete results dict: hand-made entries, and the verdict and energy block computed by
    the real (pure) functions."""
    results = {
        "schema_version": 1, "nnvsml_version": "0.1.0",
        "created": "2026-01-05T10:00:00+0000", "updated": "2026-01-05T10:02:11+0000",
        "status": "complete",
        "dataset": {"name": "cancer", "modality": "tabular", "task": "binary", "n_rows": 569,
                    "n_features": 30, "target": "diagnosis", "classes": ["benign", "malignant"],
                    "source": "DataFrame", "fingerprint": "ab12", "columns": [
                        {"name": "mean radius", "kind": "numeric", "dtype": "float64",
                         "n_unique": 456, "missing_fraction": 0.0, "used": True,
                         "note": "numbers"}],
                    "input": {}, "split": None, "notices": []},
        "protocol": {"seed": 0, "test_fraction": 0.2, "cv_folds": 5, "budget_seconds": 40,
                     "primary_metric": "accuracy",
                     "primary_metric_reason": "classes are not strongly imbalanced",
                     "greater_is_better": True, "budget_rule": "equal_per_family",
                     "search": "bayesian", "trials": None, "n_train": 455, "n_test": 114,
                     "split": "stratified", "validation": "cv", "n_validation": 455,
                     "n_tuning": {"train": 291, "validation": 73},
                     "search_description": "TPE", "tuning_storage": "sqlite file tuning.db",
                     "families": ["traditional", "neural"],
                     "budget": {"rule": "equal_per_family", "rule_description": "equal share",
                                "planned": {"traditional": 18.9, "neural": 18.9},
                                "spent": {"traditional": 11.3, "neural": 5.9}},
                     "budget_spent": {"traditional": 11.3, "neural": 5.9},
                     "wall_seconds": 21.4},
        "models": [lr_entry(), failed_entry(), mlp_entry()],
        "verdict": None,
        "test_comparison": {"traditional_model": "logistic_regression", "neural_model": "mlp",
                            "traditional": 0.974, "neural": 0.965, "metric": "accuracy",
                            "ci_low": -0.02, "ci_high": 0.04, "level": 0.95,
                            "resamples": 1000, "test": "McNemar's exact test on the test rows",
                            "p_value": 0.68, "only_first_right": 3, "only_second_right": 2},
        "tuning_effort": None,
    }
    results["evidence"] = {
        "analyses": ["energy"], "models": {"traditional": "logistic_regression", "neural": "mlp"},
        "metric": "accuracy", "higher_is_better": True,
        "scored_on": "the validation rows of the first fold; the test rows are not used",
        "budget_seconds": 20.0, "seconds": 0.01, "energy": energy.estimate(results)}
    results["preferences"] = {"priority": priority, "constraints": constraints or {}}
    results["verdict"] = decide(results, priority=priority, constraints=constraints)
    results["report"] = {"status": "ok", "path": "report.html", "seconds": 1.2}
    return results


# ---- the typed records ----------------------------------------------------------------------

@pytest.mark.parametrize("make", [mlp_entry, lr_entry, failed_entry])
def test_model_entry_round_trip_is_exact(make):
    entry = make()
    typed = ModelEntry.from_dict(entry)
    assert isinstance(typed.cost, Cost)
    back = typed.to_dict()
    assert back == entry
    assert list(back) == list(entry) and list(back["cost"]) == list(entry["cost"])


def test_model_entry_keeps_unknown_keys_and_fills_missing_optional_ones():
    entry = {**lr_entry(), "calibration": {"ece": 0.02}}
    typed = ModelEntry.from_dict(entry)
    assert typed.extra == {"calibration": {"ece": 0.02}}
    assert typed.evaluation is None and "evaluation" not in typed.to_dict()
    assert typed.to_dict() == entry

    bare = ModelEntry.from_dict({"name": "knn", "family": "traditional", "status": "skipped",
                                 "reason": "budget exhausted"}).to_dict()
    assert bare["cost"] == {"fit_seconds": None, "cpu_seconds": None, "predict_ms_per_1k": None,
                            "peak_memory_mb": None, "model_size_kb": None, "wall_seconds": None}
    assert bare["test"] == {} and bare["training"] is None
    with pytest.raises(ValueError, match="'family'"):
        ModelEntry.from_dict({"name": "knn", "status": "ok"})


def test_entry_builds_todays_shape():
    """``comparison._entry`` goes through ModelEntry and writes the same dict as before."""
    cand = REGISTRY["logistic_regression"]
    skipped = _entry(cand, "skipped", "budget exhausted", 1.5, None, 0.0, 0.0)
    assert skipped == {
        "name": cand.name, "family": "traditional", "status": "skipped",
        "reason": "budget exhausted", "description": cand.description,
        "explanations": list(cand.explanations), "time_limit_seconds": 1.5,
        "test": {}, "test_ci": {}, "cv": {}, "cv_train": {},
        "cost": {"fit_seconds": None, "cpu_seconds": None, "predict_ms_per_1k": None,
                 "peak_memory_mb": None, "model_size_kb": None, "wall_seconds": 0.0},
        "params": {}, "training": None, "tuning": None, "artifacts": {}}
    result = {k: v for k, v in lr_entry().items()
              if k in ("test", "test_ci", "cv", "cv_train", "cost", "params", "training",
                       "tuning", "artifacts")}
    result["cost"] = {k: v for k, v in result["cost"].items() if k != "wall_seconds"}
    ok = _entry(cand, "ok", None, float("inf"), result, 1.7604, 500.0)
    assert ok["time_limit_seconds"] is None and ok["cost"]["wall_seconds"] == 1.76
    assert ok["cost"]["peak_memory_mb"] == 500.0  # the parent's reading, when larger
    assert list(ok["cost"]) == list(lr_entry()["cost"])
    for key in ("test", "cv", "tuning"):
        assert ok[key] == result[key]
    # The entry signs the artifacts the process reported (see test_untrusted_run_dir.py).
    assert ok["artifacts"] == {**result["artifacts"], "signature": sign(result["artifacts"])}
    validate({**make_results(), "models": [skipped, ok]})


def test_evidence_block_round_trip_keeps_its_order():
    block = {"status": "ok", "reason": None, "metric": "accuracy", "sizes": [50, 120, 455],
             "repeats": 3, "n_train": 455, "families": {}, "crossing": {"status": "none"},
             "seconds": 12.5}
    typed = EvidenceBlock.from_dict(block)
    assert (typed.status, typed.reason, typed.seconds) == ("ok", None, 12.5)
    assert typed.payload["sizes"] == [50, 120, 455]
    back = typed.to_dict()
    assert back == block and list(back) == list(block)
    fresh = EvidenceBlock("skipped", "no network finished in this run", 0.0).to_dict()
    assert fresh == {"status": "skipped", "reason": "no network finished in this run",
                     "seconds": 0.0}


def test_verdict_round_trip_of_decide():
    for priority, constraints in (("accuracy", None), ("speed", {"max_model_mb": 0.5})):
        verdict = make_results(priority, constraints)["verdict"]
        back = Verdict.from_dict(verdict).to_dict()
        assert back == verdict and list(back) == list(verdict)
    minimal = Verdict.from_dict({"family": "tie", "model": None, "reasons": ["no model"],
                                 "note": "kept"})
    assert minimal.extra == {"note": "kept"} and minimal.to_dict()["note"] == "kept"


# ---- the schema -----------------------------------------------------------------------------

def test_schema_is_valid_draft_2020_12_and_packaged():
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert SCHEMA_PATH.name == "results.schema.json"
    assert json.loads(SCHEMA_PATH.read_text()) == schema


@pytest.mark.parametrize("priority,constraints", [
    ("accuracy", None),
    ("speed", {"max_latency_ms": 0.01}),
    ("interpretability", {"require_explanations": True}),
])
def test_realistic_results_validate(priority, constraints):
    results = make_results(priority, constraints)
    validate(results)
    validate(json.loads(json.dumps(results)))  # as read back from the file
    running = {**results, "status": "running", "verdict": None}
    for key in ("evidence", "preferences", "report", "test_comparison", "tuning_effort"):
        running.pop(key)
    validate(running)


def test_invalid_results_name_the_paths_at_fault():
    bad = copy.deepcopy(make_results())
    bad["models"][2]["status"] = "finished"
    with pytest.raises(ResultsSchemaError) as info:
        validate(bad)
    message = str(info.value)
    assert "$.models[2].status" in message and "'finished' is not one of" in message
    assert ("$.models[2].status",
            "'finished' is not one of ['ok', 'failed', 'timeout', 'skipped']") in info.value.errors

    del bad["models"]
    with pytest.raises(ResultsSchemaError, match=r"\$: 'models' is a required property"):
        validate(bad)


@pytest.mark.parametrize("path,value,where", [
    (("schema_version",), 2, "$.schema_version"),
    (("verdict", "family"), "both", "$.verdict.family"),
    (("dataset", "n_rows"), "569", "$.dataset.n_rows"),
    (("models", 0, "family"), "deep", "$.models[0].family"),
    (("models", 0, "cost", "fit_seconds"), "fast", "$.models[0].cost.fit_seconds"),
    (("models", 2, "evaluation", "level"), "eyeballed", "$.models[2].evaluation.level"),
    (("models", 2, "training", "stopped_by"), 3, "$.models[2].training.stopped_by"),
    (("models", 2, "validation_blocks", "accuracy"), [0.9, "x"],
     "$.models[2].validation_blocks.accuracy[1]"),
    (("evidence", "energy", "status"), "done", "$.evidence.energy.status"),
    (("test_comparison", "p_value"), "small", "$.test_comparison.p_value"),
])
def test_each_typed_key_is_checked(path, value, where):
    bad = copy.deepcopy(make_results())
    target = bad
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ResultsSchemaError) as info:
        validate(bad)
    assert where in [p for p, _ in info.value.errors], info.value.errors


def test_a_failed_model_must_say_why_and_a_finished_one_must_have_scores():
    bad = copy.deepcopy(make_results())
    bad["models"][1]["reason"] = None
    bad["models"][0]["cv"] = {}
    with pytest.raises(ResultsSchemaError) as info:
        validate(bad)
    paths = [p for p, _ in info.value.errors]
    assert "$.models[1].reason" in paths and "$.models[0].cv" in paths


def test_null_metric_values_are_allowed():
    results = make_results()
    results["models"][0]["test"]["roc_auc"] = None
    results["models"][0]["cv"]["roc_auc"] = {"mean": None, "std": None, "folds": [0.9, None]}
    validate(results)


def test_the_suite_validates_every_results_json_it_writes(tmp_path):
    """conftest.py wraps RunStore.save: a results.json off its schema fails the test writing it."""
    store = RunStore(tmp_path)
    store.results = {**make_results(), "status": "finished"}
    with pytest.raises(ResultsSchemaError, match=r"\$\.status: 'finished' is not one of"):
        store.save()
    store.results["status"] = "complete"
    store.save()
