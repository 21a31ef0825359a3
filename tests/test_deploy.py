"""Handing over the model (issue: deploy what the verdict chose): safe files written by every
run and checked for parity, ``nnvsml export`` / ``predict`` / ``serve`` loading nothing but
them, a real uvicorn server on 127.0.0.1 behind a token, and bad input answered in one line
(command line) or a 4xx naming the field (service)."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnvsml
from nnvsml import artifacts
from nnvsml.cli import main
from nnvsml.deploy import model as served
from nnvsml.deploy.export import export
from nnvsml.deploy.predict import predict
from oneline import cli_failure

MODELS = ["logistic_regression", "lightgbm", "mlp"]
TOKEN = "a-test-token-of-some-length"


@pytest.fixture(scope="module")
def run(tmp_path_factory, cancer_csv):
    out = tmp_path_factory.mktemp("deploy") / "run"
    # The deployability analysis writes each family's best as ONNX and serves it from fresh
    # processes: four of them, each importing its libraries (about 5 s) before it answers.
    nnvsml.compare(str(cancer_csv), target="diagnosis", out=out, models=MODELS, trials=1,
                   search="random", analyses="deployability", analysis_budget=90,
                   report=False, seed=0)
    return out


@pytest.fixture(scope="module")
def test_rows(run, cancer_csv) -> pd.DataFrame:
    """The run's test rows, as the user's table has them (same seed, same split)."""
    plan = nnvsml.api.plan(str(cancer_csv), target="diagnosis", seed=0)
    return plan.dataset.X.iloc[plan.protocol.test_idx].reset_index(drop=True)


def entry(run: Path, name: str) -> dict:
    results = json.loads((run / "results.json").read_text())
    return next(m for m in results["models"] if m["name"] == name)


def saved_predictions(run: Path, name: str) -> dict:
    a = entry(run, name)["artifacts"]
    return artifacts.load_arrays(artifacts.confined(run, a["predictions"]))


@pytest.fixture
def no_pickles(monkeypatch):
    """Any unpickling during the test fails it."""
    import joblib

    def refuse(*args, **kwargs):
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(joblib, "load", refuse)


def test_every_model_is_also_stored_in_safe_files_that_predict_the_same(run):
    for name in MODELS:
        m = entry(run, name)
        safe = m["formats"]["safe"]
        assert safe["status"] == "ok", safe["reason"]
        assert safe["parity"]["ok"] and safe["parity"]["labels_equal"]
        assert safe["parity"]["max_abs_diff"] <= 1e-4 and safe["parity"]["rows"] == 114
        files = served.safe_files(run, m["artifacts"])
        expected = {"pipeline", "weights", "network"} if name == "mlp" else {"pipeline"}
        assert set(files) == expected


@pytest.mark.parametrize("name", MODELS)
def test_predict_gives_the_runs_test_predictions_without_unpickling(run, test_rows, name,
                                                                    no_pickles, tmp_path):
    out = tmp_path / "p.csv"
    table = tmp_path / "rows.csv"
    test_rows.to_csv(table, index=False)
    predictions = predict(run, table, out, model=name)
    saved = saved_predictions(run, name)
    assert list(predictions["prediction"]) == list(saved["y_pred"])
    proba = predictions[["proba_benign", "proba_malignant"]].to_numpy()
    assert np.abs(proba - saved["proba"]).max() <= 1e-6
    written = pd.read_csv(out)
    assert list(written.columns) == ["prediction", "proba_benign", "proba_malignant"]
    assert len(written) == len(test_rows)


def test_export_holds_the_safe_files_schema_and_card_and_predicts_the_same(run, test_rows,
                                                                          tmp_path):
    folder = export(run, model="mlp", out=tmp_path / "mlp")
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["README.md", "card.json", "model.net.json", "model.safetensors",
                     "model.skops", "schema.json"]
    assert all((p.stat().st_mode & 0o077) == 0 for p in folder.iterdir())
    card = json.loads((folder / "card.json").read_text())
    assert card["model"] == "mlp" and card["family"] == "neural"
    assert card["dataset"]["target"] == "diagnosis" and card["test_ci"]["accuracy"]["low"] < 1
    schema = json.loads((folder / "schema.json").read_text())
    assert len(schema["columns"]) == 30 and schema["classes"] == ["benign", "malignant"]
    assert "accuracy" in (folder / "README.md").read_text()
    # The folder travels: moved elsewhere, it still loads and predicts the same.
    moved = shutil.move(str(folder), tmp_path / "elsewhere")
    loaded = served.load(moved)
    saved = saved_predictions(run, "mlp")
    assert list(loaded.predict_table(test_rows)["prediction"]) == list(saved["y_pred"])
    # The verdict's model by default, into the run directory.
    default = export(run)
    verdict = json.loads((run / "results.json").read_text())["verdict"]["model"]
    assert default == run / "export" / verdict


def test_deployability_serves_each_familys_best_from_its_files_and_from_onnx(run):
    results = json.loads((run / "results.json").read_text())
    block = results["evidence"]["deployability"]
    assert block["status"] == "ok" and block["threads"] == 1 and block["onnx_runtime"]
    for family in ("traditional", "neural"):
        record = block["models"][family]
        assert record["model"] == results["evidence"]["models"][family]
        formats = record["formats"]
        assert formats["joblib"]["size_kb"] > 0 and formats["safe"]["size_kb"] > 0
        onnx = formats["onnx"]
        # A table's model is one graph from the raw columns, the network's feature steps too.
        assert onnx["status"] == "ok" and onnx["scope"] == "pipeline", onnx
        assert onnx["parity"]["ok"] and onnx["parity"]["labels_equal"]
        assert onnx["parity"]["max_abs_diff"] <= 1e-4
        assert artifacts.digest(run / onnx["files"][0]) == onnx["sha256"]
        measured = [r for r in record["routes"].values() if r["status"] == "ok"]
        assert measured, record["routes"]  # ONNX Runtime first: never left untimed
        for route in measured:
            assert 0 < route["load_and_first_s"] <= route["cold_start_s"]
            assert 0 < route["p50_ms"] <= route["p99_ms"] and route["single_calls"] >= 10
            assert route["rows_per_s"] > 0 and route["peak_memory_mb"] > 0
    # The models' entries say which has an ONNX copy now, and why the others have none.
    studied = set(results["evidence"]["models"].values())
    for m in results["models"]:
        onnx = m["formats"]["onnx"]
        assert onnx["status"] == ("ok" if m["name"] in studied else "not_written"), onnx
        assert m["name"] in studied or "deployability analysis" in onnx["reason"]
    row = next(r for r in results["verdict"]["key_differences"]
               if r["dimension"] == "deployability")
    assert row["traditional_value"] > 0 and row["neural_value"] > 0
    assert "p50" in row["traditional"] and "cold start" in row["neural"]


def test_export_onnx_predicts_the_runs_test_predictions_in_onnx_runtime(run, test_rows,
                                                                       tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from nnvsml.deploy.onnx_format import OnnxModel

    models = json.loads((run / "results.json").read_text())["evidence"]["models"]
    for family, name in models.items():
        folder = tmp_path / name
        main(["export", str(run), "--model", name, "--format", "onnx", "--out", str(folder)])
        assert capsys.readouterr().out.strip() == str(folder)
        assert (folder / "model.onnx").is_file()
        card = json.loads((folder / "card.json").read_text())
        assert card["files"]["onnx"] == "model.onnx"
        assert card["onnx"]["scope"] == "pipeline"
        assert card["onnx"]["converter"] == ("skl2onnx+torch.onnx" if family == "neural"
                                             else card["onnx"]["converter"])
        assert "model.onnx" in (folder / "README.md").read_text()
        # The graph alone answers: no scikit-learn, no torch, no pickle.
        labels, proba = OnnxModel(folder / "model.onnx").predict(test_rows)
        saved = saved_predictions(run, name)
        assert list(labels) == list(saved["y_pred"])
        assert np.abs(proba - saved["proba"]).max() <= 1e-4
    other = next(n for n in MODELS if n not in models.values())
    code, err = cli_failure(capsys, ["export", str(run), "--model", other, "--format", "onnx",
                              "--out", str(tmp_path / "other")])
    assert code == 2 and "has no ONNX copy" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "other").exists()


class Foreign:
    """A type nnvsml does not build: a model file naming it must not load."""


def test_a_model_file_naming_a_foreign_type_is_refused(run, tmp_path, capsys):
    import skops.io as sio

    folder = export(run, model="logistic_regression", out=tmp_path / "lr")
    sio.dump({"model": Foreign()}, folder / "model.skops")
    card = json.loads((folder / "card.json").read_text())
    card["files"]["safe_pipeline_sha256"] = artifacts.digest(folder / "model.skops")
    (folder / "card.json").write_text(json.dumps(card))
    code, err = cli_failure(capsys, ["predict", str(folder), str(tmp_path / "x.csv")])
    assert code == 2 and "names types nnvsml does not build" in err and "Foreign" in err


def test_a_text_models_safe_file_stores_its_vocabulary_as_data_not_one_file_per_term(tmp_path):
    # scikit-learn's vocabularies hold numpy ints, which skops wrote one zip entry each: 13,000
    # entries took 5 s to write and read back, more than a small model's share of the budget.
    import zipfile

    from makedata import sms_rows

    from nnvsml.deploy import safe
    from nnvsml.models import BuildContext, get

    rows = sms_rows(300)
    ctx = BuildContext(task="binary", kinds={}, n_train=300, seed=0, modality="text")
    est = get("tfidf_logistic_regression").build(ctx)
    est.fit(rows["message"].to_numpy(), rows["label"].to_numpy())
    n_terms = sum(len(v.vocabulary_) for _, v in est[0].transformer_list)
    files = safe.save(est, tmp_path / "m")
    assert len(zipfile.ZipFile(files["pipeline"]).namelist()) < 100 < n_terms
    loaded = safe.load(files)
    texts = rows["message"].to_numpy()
    assert np.array_equal(loaded.predict_proba(texts), est.predict_proba(texts))


@pytest.mark.parametrize("edit, args, message", [
    (lambda t: t.drop(columns=["mean radius"]), [], "lacks 1 column(s) the model needs: 'mean radius'"),
    (lambda t: t.assign(**{"mean area": "big"}), [], "column 'mean area' must hold numeric"),
    (None, ["--out", "p.txt"], "write predictions to a .csv or .parquet file"),
    (None, ["--model", "nope"], "no model 'nope' in this run"),
])
def test_predict_on_bad_input_exits_2_with_one_line_and_writes_nothing(
        run, test_rows, tmp_path, capsys, monkeypatch, edit, args, message):
    monkeypatch.chdir(tmp_path)
    table = tmp_path / "rows.csv"
    (edit(test_rows) if edit else test_rows).to_csv(table, index=False)
    code, err = cli_failure(capsys, ["predict", str(run), str(table), "--out", "p.csv", *args])
    assert code == 2 and message in err, err
    assert not (tmp_path / "p.csv").exists()


def test_predict_on_a_folder_that_is_no_run_exits_2(tmp_path, capsys):
    code, err = cli_failure(capsys, ["predict", str(tmp_path), str(tmp_path / "x.csv")])
    assert code == 2 and "neither a run directory" in err


# ---- the service -------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(run, tmp_path_factory):
    folder = export(run, model="logistic_regression",
                    out=tmp_path_factory.mktemp("served") / "lr")
    yield from _serving([str(folder)])


@pytest.fixture(scope="module")
def onnx_server(run):
    """The network, one ONNX graph from the raw columns, served through ONNX Runtime."""
    pytest.importorskip("onnxruntime")
    yield from _serving([str(run), "--model", "mlp", "--runtime", "onnx"])


def _serving(args: list[str]):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnvsml", "serve", *args, "--port", str(port),
         "--token", TOKEN], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
    else:
        pytest.fail("the server did not start")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _rows(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def test_served_predictions_are_the_runs_test_predictions(server, run, test_rows):
    r = httpx.post(f"{server}/v1/predict/batch", json={"rows": _rows(test_rows)}, headers=AUTH)
    assert r.status_code == 200, r.text
    answers = r.json()["predictions"]
    saved = saved_predictions(run, "logistic_regression")
    assert [a["prediction"] for a in answers] == list(saved["y_pred"])
    proba = np.array([[a["probabilities"]["benign"], a["probabilities"]["malignant"]]
                      for a in answers])
    assert np.abs(proba - saved["proba"]).max() <= 1e-9
    one = httpx.post(f"{server}/v1/predict", json={"row": _rows(test_rows)[0]}, headers=AUTH)
    assert one.json()["predictions"] == answers[:1]
    described = httpx.get(f"{server}/v1/model", headers=AUTH).json()
    assert described["model"] == "logistic_regression" and described["schema"]["columns"]
    assert httpx.get(f"{server}/docs").status_code == 200


def test_the_token_is_required_and_compared(server, test_rows):
    body = {"row": _rows(test_rows)[0]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = httpx.post(f"{server}/v1/predict", json=body, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert "Traceback" not in r.text
    assert httpx.get(f"{server}/v1/model").status_code == 401


def test_bad_bodies_get_4xx_naming_the_field(server, test_rows):
    row = _rows(test_rows)[0]
    cases = [
        ({"row": {k: v for k, v in row.items() if k != "mean radius"}}, 422, "mean radius"),
        ({"row": {**row, "mean area": "big"}}, 422, "mean area"),
        ({}, 422, "row"),
        ({"rows": []}, 422, "rows"),
    ]
    for body, status, field in cases:
        url = f"{server}/v1/predict" + ("/batch" if "rows" in body else "")
        r = httpx.post(url, json=body, headers=AUTH)
        assert r.status_code == status, (body, r.text)
        assert field in json.dumps(r.json()["detail"]) and "Traceback" not in r.text
    big = b'{"rows": [' + b",".join([json.dumps(row).encode()] * 13_000) + b"]}"
    assert len(big) > 10 * 10**6  # a 10 MB body
    r = httpx.post(f"{server}/v1/predict/batch", content=big,
                   headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413 and "fewer rows" in r.text
    r = httpx.post(f"{server}/v1/predict", content=b"{not json",
                   headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422


@settings(max_examples=int(os.environ.get("NNVSML_FUZZ_EXAMPLES", "120")) // 5, deadline=None,
          derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=12))
def test_no_body_makes_the_service_fail(server, body):
    """Contract fuzz: whatever JSON arrives, the answer is 200 or a 4xx, never a 5xx."""
    for path in ("/v1/predict", "/v1/predict/batch"):
        for payload in (body, {"row": body}, {"rows": [body]}):
            r = httpx.post(f"{server}{path}", json=payload, headers=AUTH)
            assert r.status_code < 500, (path, payload, r.text)


def test_the_onnx_runtime_serves_the_runs_test_predictions(onnx_server, run, test_rows):
    health = httpx.get(f"{onnx_server}/health").json()
    assert health == {"status": "ok", "model": "mlp", "runtime": "onnx"}
    r = httpx.post(f"{onnx_server}/v1/predict/batch", json={"rows": _rows(test_rows)},
                   headers=AUTH)
    assert r.status_code == 200, r.text
    answers = r.json()["predictions"]
    saved = saved_predictions(run, "mlp")
    assert [a["prediction"] for a in answers] == list(saved["y_pred"])
    proba = np.array([[a["probabilities"][c] for c in ("benign", "malignant")] for a in answers])
    assert np.abs(proba - saved["proba"]).max() <= 1e-4
    bad = httpx.post(f"{onnx_server}/v1/predict", json={"row": {"mean radius": 1.0}},
                     headers=AUTH)
    assert bad.status_code == 422 and "mean texture" in bad.text


def test_one_row_at_a_time_through_onnx_runtime_answers_as_the_batch(onnx_server, test_rows):
    """A single row goes to ONNX Runtime without a pandas table when its values are plain
    numbers; a number written as text takes the table's way, and text that is no number is a
    422 naming its column, as in a batch."""
    rows = _rows(test_rows)
    batch = httpx.post(f"{onnx_server}/v1/predict/batch", json={"rows": rows},
                       headers=AUTH).json()["predictions"]
    with httpx.Client(base_url=onnx_server, headers=AUTH) as client:
        single = [client.post("/v1/predict", json={"row": row}).json()["predictions"][0]
                  for row in rows]
        assert single == batch
        as_text = {**rows[0], "mean radius": str(rows[0]["mean radius"])}
        assert client.post("/v1/predict", json={"row": as_text}).json()["predictions"] \
            == batch[:1]
        missing = {**rows[0], "mean radius": None}
        assert client.post("/v1/predict", json={"row": missing}).status_code == 200
        wrong = client.post("/v1/predict", json={"row": {**rows[0], "mean radius": "big"}})
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "row", "mean radius"]


@pytest.mark.parametrize("which, requests", [("onnx_server", 50), ("server", 2)])
def test_a_bounded_load_has_no_errors(which, requests, request, test_rows):
    """200 concurrent httpx clients on loopback, each sending its requests one after another
    on its own connection: 10,000 requests to the network served through ONNX Runtime (about
    30 s here: the server and the clients share two cores), 400 to the natively served
    logistic regression (scikit-learn, about 15 ms of CPU a row). It stops by itself: a fixed
    number of requests, each with a timeout."""
    server = request.getfixturevalue(which)
    rows = _rows(test_rows)
    # One TLS context for all: httpx builds one per client otherwise (certificates loaded 200
    # times, most of the clients' time), though nothing here speaks TLS.
    context = ssl.create_default_context()

    async def client(i: int) -> list[int]:
        codes = []
        async with httpx.AsyncClient(base_url=server, headers=AUTH, timeout=60,
                                     verify=context) as session:
            for j in range(requests):
                r = await session.post("/v1/predict", json={"row": rows[(i + j) % len(rows)]})
                codes.append(r.status_code)
        return codes

    async def main_() -> list[int]:
        results = await asyncio.gather(*(client(i) for i in range(200)))
        return [c for codes in results for c in codes]

    codes = asyncio.run(main_())
    assert len(codes) == 200 * requests and set(codes) == {200}


@pytest.mark.parametrize("name", ["lightgbm", "mlp", "ft_transformer", "random_forest", "svm",
                                  "decision_tree", "knn", "naive_bayes"])
def test_every_tabular_candidate_with_categories_has_a_safe_copy(name, tmp_path):
    """Categories (pandas levels, a tree's arrays, a calibrator) are stored as data too."""
    from nnvsml.data import load_dataset
    from nnvsml.deploy import safe
    from nnvsml.models import BuildContext, get

    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"x": rng.normal(size=n), "colour": rng.choice(["red", "green", "blue"], n),
                          "size": rng.choice(["s", "m", "l", "xl"], n)})
    frame["y"] = np.where((frame["x"] > 0) ^ (frame["colour"] == "red"), "yes", "no")
    ds = load_dataset(frame, target="y")
    ctx = BuildContext(task=ds.task, kinds=ds.kinds(), n_train=n, seed=0, max_time=None,
                       modality=ds.modality, info=ds.info)
    est = get(name).build(ctx)
    if hasattr(est.steps[-1][1], "max_epochs"):
        est.steps[-1][1].set_params(max_epochs=3)
    est.fit(ds.X, np.asarray(ds.y))
    outputs = lambda model, X: (model.predict(X), model.predict_proba(X))  # noqa: E731
    files, record = safe.save_checked(est, tmp_path / name, outputs, ds.X, *outputs(est, ds.X))
    assert record["status"] == "ok", record["reason"]
    assert record["parity"]["labels_equal"] and files["pipeline"].is_file()


def test_predict_to_a_path_that_cannot_be_written_exits_2(run, test_rows, tmp_path, capsys):
    table = tmp_path / "rows.csv"
    test_rows.to_csv(table, index=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = cli_failure(capsys, ["predict", str(run), str(table), "--out",
                                     str(blocker / "p.csv")])
    assert code == 2 and "cannot write --out" in err


def test_serve_on_a_taken_port_exits_2_before_starting(run, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code, err = cli_failure(capsys, ["serve", str(run), "--port", str(port), "--token", TOKEN])
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err


def test_export_never_replaces_a_folder_that_is_not_an_export(run, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "card.json").write_text("{}")
    (folder / "notes.txt").write_text("keep me")
    code, err = cli_failure(capsys, ["export", str(run), "--out", str(folder)])
    assert code == 2 and "not an nnvsml export" in err
    assert (folder / "notes.txt").read_text() == "keep me"
    again = export(run, out=tmp_path / "e")
    assert export(run, out=again) == again  # an earlier export is replaced
