"""Runs logged to MLflow (``--mlflow``): read back through MLflow's own client."""

from __future__ import annotations

import json
import socket

import pytest

import nnvsml
from oneline import cli_failure

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")

MODELS = ["logistic_regression", "mlp"]


@pytest.fixture(scope="module")
def logged(tmp_path_factory, cancer_csv):
    folder = tmp_path_factory.mktemp("tracking")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    out = folder / "run"
    result = nnvsml.compare(str(cancer_csv), target="diagnosis", out=out, models=MODELS,
                            trials=2, search="random", analyses="none", seed=0, mlflow=uri)
    return uri, out, result


def runs(uri: str):
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("nnvsml")
    found = client.search_runs([experiment.experiment_id])
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in found if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


def test_one_parent_run_and_one_nested_run_per_candidate(logged):
    uri, out, result = logged
    client, parents, children = runs(uri)
    assert len(parents) == 1
    assert (out / "mlflow.json").stat().st_mode & 0o077 == 0  # the URI may hold a password
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["nnvsml.verdict.model"] == result.verdict["model"]
    assert parent.data.tags["nnvsml.verdict.family"] == result.verdict["family"]
    assert parent.data.params["dataset.task"] == "binary"
    assert parent.data.params["protocol.trials"] == "2"
    assert "verdict.p_value" in parent.data.metrics
    assert {c.data.tags["nnvsml.model"] for c in children} == set(MODELS)
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children)
    entries = {m["name"]: m for m in result.results["models"]}
    for child in children:
        entry = entries[child.data.tags["nnvsml.model"]]
        metrics = child.data.metrics
        assert metrics["test_accuracy"] == pytest.approx(entry["test"]["accuracy"])
        assert metrics["test_accuracy_ci_low"] <= metrics["test_accuracy"] \
            <= metrics["test_accuracy_ci_high"]
        assert metrics["cost_fit_seconds"] > 0 and "cv_accuracy_mean" in metrics
        assert child.data.params["tuning.strategy"] == "random"
        history = client.get_metric_history(child.info.run_id, "tuning_score")
        assert [h.step for h in history] == [0, 1]


def test_the_results_report_and_the_chosen_models_safe_files_are_artifacts(logged, tmp_path):
    uri, out, result = logged
    client, parents, _ = runs(uri)
    run_id = parents[0].info.run_id
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"results.json", "leaderboard.csv", "model"} <= names
    model = {a.path for a in client.list_artifacts(run_id, "model")}
    assert {"model/card.json", "model/schema.json", "model/model.skops"} <= model
    assert not any(p.endswith((".joblib", ".pkl")) for p in model)
    local = client.download_artifacts(run_id, "results.json", str(tmp_path))
    assert json.loads(open(local).read())["verdict"]["model"] == result.verdict["model"]


def test_running_again_logs_into_the_same_runs(logged, cancer_csv):
    uri, out, _ = logged
    nnvsml.compare(str(cancer_csv), target="diagnosis", out=out, models=MODELS, trials=2,
                   search="random", analyses="none", seed=0, mlflow=uri)
    _, parents, children = runs(uri)
    assert len(parents) == 1
    assert sorted(c.data.tags["nnvsml.model"] for c in children) == sorted(MODELS)


def test_an_unreachable_tracking_server_is_one_line_before_anything_trains(cancer_csv, tmp_path,
                                                                          capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "run"
    code, err = cli_failure(capsys, ["compare", str(cancer_csv), "--target", "diagnosis",
                                     "--out", str(out), "--mlflow", f"http://127.0.0.1:{port}"])
    assert code == 2 and "cannot reach the MLflow tracking server" in err
    assert not out.exists()
    code, err = cli_failure(capsys, ["compare", str(cancer_csv), "--mlflow", "mlruns"])
    assert code == 2 and "--mlflow must be a tracking server URL" in err
    code, err = cli_failure(capsys, ["compare", str(cancer_csv), "--mlflow",
                                     f"sqlite:///{tmp_path}/no/such/folder/mlflow.db"])
    assert code == 2 and "does not exist" in err
