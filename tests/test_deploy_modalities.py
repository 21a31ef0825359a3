"""Handing over models of every modality: ``nnvsml predict`` reads new images, texts, series
and sounds as training read them and predicts what the run predicted on the same examples;
``nnvsml serve`` takes them as JSON (and a table as an uploaded file), answers 422 naming the
field for what the model cannot take, and 401 without the token.

One small run per modality, shared by the tests through module-scoped fixtures (the real
uvicorn server is test_deploy.py's; FastAPI's TestClient is enough here). Each run trains a
traditional model and a network, so both kinds of safe file are read back.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from makedata import write_bump_series, write_digits_png, write_tones_wav
from oneline import cli_failure
from PIL import Image

import nnvsml
import nnvsml.api
from nnvsml import artifacts
from nnvsml.cli import main
from nnvsml.data.dataset import take
from nnvsml.data.detect import labelled_files
from nnvsml.deploy.model import load
from nnvsml.deploy.predict import predict
from nnvsml.deploy.service import create_app

TOKEN = "a-test-token-of-some-length"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Run:
    """A finished run, the model it is tested with, and its test examples as the user has
    them (``files``: their paths, for folders) and as the model took them (``X``)."""

    dir: Path
    model: str
    X: object
    files: list[Path] | None = None

    @property
    def saved(self) -> dict:
        results = json.loads((self.dir / "results.json").read_text())
        entry = next(m for m in results["models"] if m["name"] == self.model)
        path = artifacts.confined(self.dir, entry["artifacts"]["predictions"])
        return artifacts.load_arrays(path)

    @property
    def classes(self) -> list:
        return json.loads((self.dir / "results.json").read_text())["dataset"]["classes"]

    @property
    def modality(self) -> str:
        return json.loads((self.dir / "results.json").read_text())["dataset"]["modality"]


def _run(data: Path, out: Path, model: str, *others: str, budget: float = 60,
         **options) -> Run:
    # No tuning, two folds and no analyses: the deployment is under test, not the models. A
    # network trains until its share of the budget is spent or it stops improving.
    nnvsml.compare(str(data), out=out, models=[model, *others], seed=0, cv_folds=2,
                   search="none", budget=budget, analyses="none", report=False, **options)
    plan = nnvsml.api.plan(str(data), seed=0, cv_folds=2, **options)
    return Run(out, model, take(plan.dataset.X, plan.protocol.test_idx))


def _test_files(run: Run, folder: Path, modality: str) -> Run:
    plan = nnvsml.api.plan(str(folder), seed=0, cv_folds=2)
    paths = labelled_files(folder, modality, []).paths
    run.files = [paths[i] for i in plan.protocol.test_idx]
    return run


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("image")
    folder = write_digits_png(root / "digits", n_per_class=12)
    return _test_files(_run(folder, root / "run", "logistic_regression_pixels", "cnn", budget=16), folder, "image")


#: Words that tell the classes apart, and words both use.
WORDS = {"spam": "free win prize call cash now claim urgent".split(),
         "ham": "see you later at home lunch ok tonight".split()}
FILLER = "the a and to of it is".split()


@pytest.fixture(scope="module")
def text_csv(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(80):
        label = "spam" if i % 2 else "ham"
        words = [*rng.choice(WORDS[label], 3), *rng.choice(WORDS["ham" if i % 2 else "spam"], 1),
                 *rng.choice(FILLER, 4)]
        rng.shuffle(words)
        rows.append({"id": i, "message": " ".join(words), "label": label})
    path = tmp_path_factory.mktemp("text") / "messages.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def text_run(text_csv) -> Run:
    # And a network: its weights come back from safetensors, its vocabulary from skops.
    return _run(text_csv, text_csv.parent / "run", "tfidf_logistic_regression", "text_cnn",
                budget=30, target="label", modality="text")


@pytest.fixture(scope="module")
def series_run(tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("series")
    folder = write_bump_series(root / "bump", n_train=30, n_test=16, length=60)
    run = _run(folder, root / "run", "summary_lightgbm", "fcn", budget=16)
    run.files = [folder / "BUMP_TEST.tsv"]  # the UCR split's test rows are the test examples
    return run


@pytest.fixture(scope="module")
def audio_run(tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("audio")
    folder = write_tones_wav(root / "tones", n_per_class=10)
    return _test_files(_run(folder, root / "run", "mfcc_svm", "audio_cnn", budget=16), folder, "audio")


@pytest.fixture(scope="module")
def table_run(tmp_path_factory, cancer_csv) -> Run:
    run = _run(cancer_csv, tmp_path_factory.mktemp("table") / "run", "logistic_regression",
               target="diagnosis")
    run.X = run.X.reset_index(drop=True)
    return run


def _same(predictions: pd.DataFrame, run: Run, rows=None) -> None:
    """Labels identical to the run's own on its test examples, probabilities within 1e-4."""
    saved = run.saved
    rows = slice(None) if rows is None else rows
    # str: a CSV read back makes the class "0" the number 0.
    assert list(predictions["prediction"].astype(str)) == list(saved["y_pred"][rows].astype(str))
    proba = predictions[[f"proba_{c}" for c in run.classes]].to_numpy(dtype=float)
    assert np.abs(proba - saved["proba"][rows]).max() <= 1e-4


def _flat_copy(files: list[Path], folder: Path) -> Path:
    folder.mkdir()
    for i, f in enumerate(files):
        shutil.copyfile(f, folder / f"{i:03d}{f.suffix}")
    return folder


# ---- nnvsml predict ----------------------------------------------------------------------------

@pytest.mark.parametrize("modality", ["image", "audio"])
def test_predict_on_new_files_is_the_runs_prediction_with_the_file_named(
        modality, request, tmp_path, capsys):
    run = request.getfixturevalue(f"{modality}_run")
    folder = _flat_copy(run.files, tmp_path / "new")
    out = tmp_path / "p.csv"
    main(["predict", str(run.dir), str(folder), "--out", str(out)])
    written = pd.read_csv(out)
    assert list(written.columns) == ["file", "prediction",
                                     *(f"proba_{c}" for c in run.classes)]
    assert list(written["file"]) == [f"{i:03d}{f.suffix}" for i, f in enumerate(run.files)]
    _same(written, run)
    assert "predictions written" in capsys.readouterr().err


@pytest.mark.parametrize("modality,network", [("image", "cnn"), ("series", "fcn"),
                                              ("audio", "audio_cnn")])
def test_a_network_comes_back_from_its_safe_files_and_predicts_as_the_run_did(
        modality, network, request):
    run = replace(request.getfixturevalue(f"{modality}_run"), model=network)
    served = load(run.dir, model=network)
    assert served.name == network
    assert served.family == "neural"
    _same(served.predict(run.X), run)


def test_predict_reads_the_training_layout_and_names_files_relative_to_the_folder(image_run):
    folder = image_run.files[0].parents[1]  # the class folders the run was trained on
    predictions = predict(image_run.dir, folder).set_index("file")
    names = [f.relative_to(folder).as_posix() for f in image_run.files]
    assert "/" in names[0]
    _same(predictions.loc[names], image_run)


def test_links_in_the_folder_are_skipped_never_followed(image_run, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(image_run.files[0], outside / "secret.png")
    folder = _flat_copy(image_run.files[1:3], tmp_path / "new")
    (folder / "link.png").symlink_to(outside / "secret.png")
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    main(["predict", str(image_run.dir), str(folder)])
    out, err = capsys.readouterr()
    assert list(pd.read_csv(io.StringIO(out))["file"]) == ["000.png", "001.png"]
    assert "skipped 2 symbolic link(s)" in err


def test_images_of_another_size_are_resized_as_training_resizes(image_run, tmp_path, capsys):
    folder = tmp_path / "big"
    folder.mkdir()
    for f in image_run.files[:3]:
        with Image.open(f) as img:
            img.resize((16, 16), Image.Resampling.NEAREST).save(folder / f.name)
    main(["predict", str(image_run.dir), str(folder)])
    out, err = capsys.readouterr()
    assert len(pd.read_csv(io.StringIO(out))) == 3
    assert "resized 3 of 3 images to 8x8" in err


@pytest.mark.parametrize("model", ["tfidf_logistic_regression", "text_cnn"])
def test_predict_on_texts_from_a_table_or_txt_files(text_run, model, tmp_path):
    text_run = replace(text_run, model=model)
    messages = list(text_run.X)
    pd.DataFrame({"id": range(len(messages)), "message": messages}).to_parquet(
        tmp_path / "new.parquet")
    _same(predict(text_run.dir, tmp_path / "new.parquet", model=model), text_run)
    folder = tmp_path / "txt" / "nested"
    folder.mkdir(parents=True)
    for i, message in enumerate(messages):
        (folder / f"{i:03d}.txt").write_text(message, encoding="utf-8")
    predictions = predict(text_run.dir, tmp_path / "txt", model=model)
    assert predictions["file"].iloc[0] == "nested/000.txt"
    _same(predictions.drop(columns="file"), text_run)


def test_predict_on_series_from_ucr_lines_with_or_without_labels_or_a_table(series_run, tmp_path):
    labelled = series_run.files[0]
    _same(predict(series_run.dir, labelled), series_run)
    values = series_run.X[:, 0, :]
    unlabelled = tmp_path / "new.csv"
    unlabelled.write_text("\n".join(",".join(f"{v:.4f}" for v in row) for row in values) + "\n")
    _same(predict(series_run.dir, unlabelled), series_run)
    table = pd.DataFrame(values, columns=[f"t{i}" for i in range(values.shape[1])])
    table.insert(0, "label", 0)  # the target column is ignored
    table.to_parquet(tmp_path / "table.parquet")
    _same(predict(series_run.dir, tmp_path / "table.parquet"), series_run)
    # Shorter series are NaN-padded at the end, as training pads them.
    notices = []
    short = _lines(tmp_path / "short.tsv", values[:, :50], label=False)
    assert len(predict(series_run.dir, short, notices=notices)) == len(values)
    assert "NaN-padded" in notices[0]


def _lines(path: Path, values: np.ndarray, label: bool = True) -> Path:
    """UCR lines: tab-separated numbers, a label first unless not ``label``."""
    path.write_text("\n".join("\t".join(["1"] * label + [str(v) for v in row])
                              for row in values) + "\n")
    return path


def _colour_png(folder: Path) -> Path:
    folder.mkdir()
    pixels = np.zeros((8, 8, 3), dtype=np.uint8)
    pixels[..., 0] = 200
    Image.fromarray(pixels, "RGB").save(folder / "red.png")
    return folder


def _empty_folder(folder: Path) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.md").write_text("no data here")
    return folder


@pytest.mark.parametrize("modality, make, message", [
    ("image", _colour_png, "red.png is in colour, but the model was trained on grayscale"),
    ("image", lambda p: _broken(p, "x.png"), "cannot read image"),
    ("image", _empty_folder, "no image files (PNG/JPG/JPEG/BMP/GIF) found"),
    ("series", lambda p: _lines(p, np.ones((2, 70)), label=False), "more than the 60 time steps"),
    ("series", lambda p: _lines(p, np.array([[1.0, np.nan, 2.0]]), label=False),
     "missing value in the middle"),
    ("text", lambda p: _table(p, {"body": ["free cash now"]}),
     "lacks the text column(s) 'message'"),
    ("audio", _empty_folder, "no audio files (WAV) found"),
    ("audio", lambda p: _broken(p, "clip.wav"), "cannot read WAV file"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(modality, make, message, request,
                                                             tmp_path, capsys):
    run = request.getfixturevalue(f"{modality}_run")
    data = make(tmp_path / "data")
    out = tmp_path / "p.csv"
    code, err = cli_failure(capsys, ["predict", str(run.dir), str(data), "--out", str(out)])
    assert code == 2 and message in err, err
    assert not out.exists() and not list(tmp_path.glob(".p.csv*"))


def _broken(folder: Path, name: str) -> Path:
    folder.mkdir()
    (folder / name).write_bytes(b"not what the name says" * 10)
    return folder


def _table(path: Path, columns: dict) -> Path:
    path = path.with_suffix(".csv")
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


# ---- nnvsml serve ------------------------------------------------------------------------------

def _client(run: Run) -> TestClient:
    return TestClient(create_app(load(run.dir, run.model), TOKEN))


def _bodies(modality: str, run: Run) -> tuple[str, str, list]:
    """The request keys for one and several examples, and the run's test examples as JSON."""
    if modality == "audio":
        return "audio_base64", "audio_base64", [base64.b64encode(f.read_bytes()).decode()
                                                for f in run.files]
    if modality == "image":
        return "image", "images", run.X[..., 0].tolist()  # grayscale: [height][width]
    if modality == "series":
        return "series", "series", run.X[:, 0, :].tolist()
    return "text", "texts", list(run.X)


def _answers_are_the_runs(answers: list[dict], run: Run, rows=None) -> None:
    frame = pd.DataFrame({"prediction": [a["prediction"] for a in answers],
                          **{f"proba_{c}": [a["probabilities"][str(c)] for a in answers]
                             for c in run.classes}})
    _same(frame, run, rows)


@pytest.mark.parametrize("modality, model", [("image", None), ("text", None),
                                             ("text", "text_cnn"), ("series", None),
                                             ("audio", None)])
def test_the_service_answers_one_and_several_examples_as_the_run_did(modality, model, request):
    run = request.getfixturevalue(f"{modality}_run")
    run = replace(run, model=model or run.model)
    key, batch_key, examples = _bodies(modality, run)
    with _client(run) as client:
        described = client.get("/v1/model", headers=AUTH).json()
        assert described["schema"]["request"]["key"] == key
        assert described["schema"]["request"]["batch_key"] == batch_key
        r = client.post("/v1/predict/batch", json={batch_key: examples}, headers=AUTH)
        assert r.status_code == 200, r.text
        _answers_are_the_runs(r.json()["predictions"], run)
        r = client.post("/v1/predict", json={key: examples[1]}, headers=AUTH)
        assert r.status_code == 200, r.text
        _answers_are_the_runs(r.json()["predictions"], run, [1])
        assert client.get("/openapi.json").status_code == 200
        for path, body in (("/v1/predict", {key: examples[0]}),
                           ("/v1/predict/batch", {batch_key: examples})):
            assert client.post(path, json=body).status_code == 401
            assert client.post(path, json=body, headers={"Authorization": "Bearer no"}
                               ).status_code == 401


def test_the_schema_says_what_shape_to_send(image_run, series_run, audio_run):
    assert load(image_run.dir).schema["request"]["shape"] == [8, 8]
    assert load(series_run.dir).schema["request"]["shape"] == [60]
    assert load(audio_run.dir).schema["request"]["sample_rate"] == 8000


def _wav(seconds: float, rate: int = 8000) -> str:
    from scipy.io import wavfile

    buffer = io.BytesIO()
    wavfile.write(buffer, rate, np.zeros(int(seconds * rate), dtype=np.int16))
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("modality, path, body, loc", [
    ("image", "/v1/predict", {"image": [[0] * 8] * 7}, ["body", "image"]),
    ("image", "/v1/predict", {"image": [[0] * 8] * 7 + [[0] * 7 + ["x"]]}, ["body", "image", 7, 7]),
    ("image", "/v1/predict", {"image": [[0] * 8] * 7 + [[0] * 7 + [300]]}, ["body", "image", 7, 7]),
    ("image", "/v1/predict/batch", {"images": [[[0] * 8] * 8, [[0] * 8] * 9]},
     ["body", "images", 1]),
    ("image", "/v1/predict", {"images": [[[0] * 8] * 8]}, ["body", "image"]),
    ("series", "/v1/predict", {"series": [0.5] * 61}, ["body", "series"]),
    ("series", "/v1/predict", {"series": [0.5, True] * 10}, ["body", "series", 1]),
    ("series", "/v1/predict", {"series": [0.5, None, 0.5]}, ["body", "series"]),
    ("series", "/v1/predict/batch", {"series": [[0.5] * 60, [[0.5] * 60] * 2]},
     ["body", "series", 1]),
    ("text", "/v1/predict", {"txt": "free cash"}, ["body", "text"]),
    ("text", "/v1/predict/batch", {"texts": ["ok", 3]}, ["body", "texts", 1]),
    ("audio", "/v1/predict", {"audio_base64": "not base64!"}, ["body", "audio_base64"]),
    ("audio", "/v1/predict", {"audio_base64": base64.b64encode(b"RIFF1234WAVE").decode()},
     ["body", "audio_base64"]),
    ("audio", "/v1/predict/batch", {"audio_base64": [_wav(0.5), _wav(0.5, 50)]},
     ["body", "audio_base64", 1]),
])
def test_what_the_model_cannot_take_is_a_422_naming_the_field(modality, path, body, loc,
                                                              request):
    run = request.getfixturevalue(f"{modality}_run")
    with _client(run) as client:
        r = client.post(path, json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert "Traceback" not in r.text
    assert any(d["loc"] == loc for d in r.json()["detail"]), r.json()


@settings(max_examples=int(os.environ.get("NNVSML_FUZZ_EXAMPLES", "120")) // 5, deadline=None,
          derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=9) | st.dictionaries(
        st.sampled_from(["image", "images", "text", "texts", "series", "audio_base64", "x"]),
        inner, max_size=3), max_leaves=30))
def test_no_body_makes_the_service_fail(image_run, text_run, series_run, audio_run, body):
    """Contract fuzz: whatever JSON arrives (NaN and Infinity included, which Python reads),
    every modality answers 200 or a 4xx, never a 5xx."""
    for run in (image_run, text_run, series_run, audio_run):
        client = _clients.setdefault(run.dir, _client(run))
        key, batch_key, _ = _bodies(run.modality, run)
        for path, payload in (("/v1/predict", body), ("/v1/predict", {key: body}),
                              ("/v1/predict/batch", {batch_key: [body]})):
            r = client.post(path, content=json.dumps(payload),
                            headers={**AUTH, "Content-Type": "application/json"})
            assert r.status_code < 500, (path, payload, r.text)


_clients: dict[Path, TestClient] = {}


def test_a_table_uploaded_as_csv_or_parquet_predicts_as_its_json_rows(table_run, tmp_path):
    rows = json.loads(table_run.X.to_json(orient="records"))
    with _client(table_run) as client:
        expected = client.post("/v1/predict/batch", json={"rows": rows}, headers=AUTH).json()
        _answers_are_the_runs(expected["predictions"], table_run)
        labels = [a["prediction"] for a in expected["predictions"]]
        csv = table_run.X.assign(diagnosis="benign").to_csv(index=False).encode()
        parquet = io.BytesIO()
        table_run.X.to_parquet(parquet)
        for name, data in (("rows.csv", csv), ("rows.parquet", parquet.getvalue())):
            r = client.post("/v1/predict/batch", files={"file": (name, data)}, headers=AUTH)
            assert r.status_code == 200, r.text
            assert [a["prediction"] for a in r.json()["predictions"]] == labels
            _answers_are_the_runs(r.json()["predictions"], table_run)
        lacking = table_run.X.drop(columns=["mean radius"]).to_csv(index=False).encode()
        r = client.post("/v1/predict/batch", files={"file": ("x.csv", lacking)}, headers=AUTH)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file",
                                                                          "mean radius"]
        for data in (b"\x1f\x8b" + b"0" * 20, b"PAR1 not really parquet", b""):
            r = client.post("/v1/predict/batch", files={"file": ("x", data)}, headers=AUTH)
            assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", "file"]
        r = client.post("/v1/predict/batch", files={"other": ("x.csv", csv)}, headers=AUTH)
        assert r.status_code == 422 and "'file'" in r.text
        assert client.post("/v1/predict/batch", files={"file": ("x.csv", csv)}).status_code == 401
