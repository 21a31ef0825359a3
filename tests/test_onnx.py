"""ONNX copies of the models (nnvsml.deploy.onnx_format): candidates built by the registry as a
run builds them, converted, loaded back in ONNX Runtime and compared with the native model on
held-out rows (labels equal, probabilities within 1e-4, regression within 1e-5 relative), one
row at a time too; the models that do not convert say why."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")

from nnvsml.data import load_dataset  # noqa: E402
from nnvsml.deploy import onnx_format  # noqa: E402
from nnvsml.deploy.onnx_format import NotConvertible, OnnxModel  # noqa: E402
from nnvsml.models import BuildContext, get  # noqa: E402
from nnvsml.protocol.worker import _outputs  # noqa: E402

TRADITIONAL = ["logistic_regression", "naive_bayes", "decision_tree", "knn", "random_forest",
               "lightgbm", "svm"]
REGRESSORS = ["ridge_regression", "decision_tree", "knn", "random_forest", "lightgbm", "svm"]


def mixed_table(task: str, n: int = 320, seed: int = 0) -> pd.DataFrame:
    """Numbers with gaps, two categories with gaps, a yes/no column, a 60-level column
    (target-encoded by the linear models, ordinal for the trees)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "x": rng.normal(size=n), "w": rng.gamma(2.0, size=n),
        "colour": rng.choice(["red", "green", "blue"], n),
        "size": rng.choice(["s", "m", "l", "xl"], n),
        "member": rng.choice(["yes", "no"], n),
        "city": rng.choice([f"c{i}" for i in range(60)], n),
    })
    signal = frame["x"] + (frame["colour"] == "red") - (frame["member"] == "yes") * 0.5
    if task == "regression":
        frame["y"] = 3 * signal + frame["city"].str[1:].astype(int) / 30 + rng.normal(size=n)
    elif task == "binary":
        frame["y"] = np.where(signal > 0.3, "yes", "no")
    else:
        frame["y"] = np.where(signal > 1, "high", np.where(signal > 0, "mid", "low"))
    frame.loc[rng.choice(n, 25, replace=False), "x"] = np.nan
    frame.loc[rng.choice(n, 25, replace=False), "colour"] = np.nan
    return frame


def fitted(name: str, frame: pd.DataFrame, target: str, n_train: int, **info):
    """The candidate as a run builds it, fitted on the first rows; the rest held out."""
    ds = load_dataset(frame, target=target)
    ctx = BuildContext(task=ds.task, kinds=ds.kinds(), n_train=n_train, seed=0,
                       max_time=None, modality=ds.modality, info=ds.info, n_jobs=1)
    est = get(name).build(ctx)
    if hasattr(est.steps[-1][1], "max_epochs"):
        est.steps[-1][1].set_params(max_epochs=5)
    y = np.asarray(ds.y)
    est.fit(ds.X.iloc[:n_train], y[:n_train])
    return est, ds.task, ds.X.iloc[n_train:].reset_index(drop=True)


def check(est, task, X, tmp_path, scope="pipeline"):
    """save_checked passes; OnnxModel then answers single rows as the native model does."""
    y_pred, proba = _outputs(est, task, X)
    path, record = onnx_format.save_checked(est, tmp_path / "model.onnx", task, X, y_pred, proba)
    assert record["status"] == "ok", record
    assert record["scope"] == scope and path.is_file()
    parity = record["parity"]
    assert parity["ok"] and parity["rows"] == len(X)
    if task == "regression":
        assert parity["max_relative_diff"] <= 1e-5
    else:
        assert parity["labels_equal"] and parity["max_abs_diff"] <= 1e-4
    model = OnnxModel(path, est=est if scope == "network" else None)
    model._batch = 16  # many rows go in parts, and the parts add up to the whole
    parts = model.predict(X)
    if task == "regression":
        np.testing.assert_allclose(parts[0], y_pred, rtol=1e-5)
    else:
        assert list(np.asarray(parts[0]).astype(str)) == list(np.asarray(y_pred).astype(str))
    for i in (0, len(X) - 1):
        row = X.iloc[i:i + 1] if hasattr(X, "iloc") else X[i:i + 1]
        onnx_pred, onnx_proba = model.predict(row)
        native_pred, native_proba = _outputs(est, task, row)
        if task == "regression":
            assert onnx_proba is None
            np.testing.assert_allclose(onnx_pred, native_pred, rtol=1e-5)
        else:
            assert list(onnx_pred.astype(str)) == list(np.asarray(native_pred).astype(str))
            assert np.abs(onnx_proba - native_proba).max() <= 1e-4
    return path, record, model


@pytest.fixture(scope="module")
def cancer(cancer_df):
    return cancer_df.sample(frac=1.0, random_state=0).reset_index(drop=True)


@pytest.mark.parametrize("name", TRADITIONAL)
def test_tabular_candidates_convert_whole_on_breast_cancer(name, cancer, tmp_path):
    est, task, X = fitted(name, cancer, "diagnosis", n_train=400)
    path, record, model = check(est, task, X, tmp_path)
    # One float64 input per raw column, under the name skl2onnx gives it.
    meta = onnx_format.read_metadata(path)
    assert [i["column"] for i in meta["inputs"]] == list(cancer.columns[:-1])
    assert {i["type"] for i in meta["inputs"]} == {"float64"}
    assert meta["inputs"][0]["name"] == "mean_radius"
    assert sorted(meta["classes"]) == ["benign", "malignant"]
    assert record["converter"] == ("skl2onnx+onnxmltools" if name == "lightgbm" else "skl2onnx")


@pytest.mark.parametrize("task, name", [("binary", n) for n in TRADITIONAL]
                         + [("regression", n) for n in REGRESSORS]
                         + [("multiclass", "logistic_regression"), ("multiclass", "lightgbm")])
def test_tabular_candidates_with_categories_and_gaps_convert_whole(task, name, tmp_path):
    """Missing numbers and categories, yes/no words, target encoding (multiclass too), LightGBM's
    own categorical splits."""
    est, task_, X = fitted(name, mixed_table(task), "y", n_train=240)
    assert task_ == task
    path, _, model = check(est, task, X, tmp_path)
    kinds = {i["column"]: (i["kind"], i["type"]) for i in model.meta["inputs"]}
    assert kinds == {"x": ("numeric", "float64"), "w": ("numeric", "float64"),
                     "colour": ("categorical", "string"), "size": ("categorical", "string"),
                     "member": ("boolean", "float64"),
                     "city": ("high_cardinality", "string")}


@pytest.mark.parametrize("name", ["logistic_regression", "random_forest", "lightgbm"])
def test_raw_values_are_read_as_the_native_pipeline_reads_them(name, tmp_path):
    """Unseen and missing categories, infinities, numbers written as text, yes/no spellings,
    integer codes, extra columns in another order: ONNX Runtime answers as the native model."""
    est, task, X = fitted(name, mixed_table("binary"), "y", n_train=240)
    path, _, model = check(est, task, X, tmp_path)
    odd = pd.DataFrame({
        "extra": [1, 2, 3, 4, 5],
        "city": ["c3", "nowhere", None, "c59", "c0"],
        "size": ["s", "xxl", np.nan, "m", "l"],
        "member": ["YES", " no ", None, "Yes", "maybe"],
        "colour": ["red", "purple", None, np.nan, "blue"],
        "w": ["1.5", "lots", None, "2", "inf"],
        "x": [np.inf, -np.inf, np.nan, 0.3, -1e20],
    }).astype(object)
    onnx_pred, onnx_proba = model.predict(odd)
    native_pred, native_proba = _outputs(est, task, odd)
    assert list(onnx_pred) == list(native_pred)
    assert np.abs(onnx_proba - native_proba).max() <= 1e-4


def test_a_missing_column_is_an_input_error(tmp_path):
    from nnvsml.errors import InputError

    est, task, X = fitted("logistic_regression", mixed_table("binary"), "y", n_train=240)
    path, _, model = check(est, task, X, tmp_path)
    with pytest.raises(InputError, match="lacks 1 column.*'city'"):
        model.predict(X.drop(columns=["city"]))


def test_the_file_describes_itself_without_a_pickle(tmp_path):
    import onnx

    est, task, X = fitted("random_forest", mixed_table("binary"), "y", n_train=240)
    path, record, _ = check(est, task, X, tmp_path)
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    meta = json.loads(props["nnvsml"])
    assert meta["scope"] == "pipeline" and meta["task"] == "binary"
    assert meta["classes"] == ["no", "yes"]
    assert meta["outputs"]["proba"] in [o.name for o in model.graph.output]
    assert [i["name"] for i in meta["inputs"]] == [i.name for i in model.graph.input]
    assert b"pickle" not in path.read_bytes() and b"joblib" not in path.read_bytes()
    data, public = onnx_format.convert(est, X, task)
    assert public["scope"] == "pipeline" and public["opset"] == onnx_format.OPSET
    assert public["inputs"][0] == {"name": "x", "type": "float64", "shape": [None, 1]}
    assert len(data) > 1000


def test_a_copy_that_does_not_predict_the_same_is_deleted(tmp_path):
    est, task, X = fitted("decision_tree", mixed_table("binary"), "y", n_train=240)
    y_pred, proba = _outputs(est, task, X)
    path, record = onnx_format.save_checked(est, tmp_path / "m.onnx", task, X, y_pred[::-1],
                                            proba[::-1])
    assert path is None and record["status"] == "failed"
    assert record["parity"]["labels_equal"] is False and "does not predict" in record["reason"]
    assert not (tmp_path / "m.onnx").exists()


def test_a_datetime_column_is_not_convertible_and_says_so(tmp_path):
    frame = mixed_table("binary")
    frame["when"] = pd.date_range("2020-01-01", periods=len(frame), freq="D").astype(str)
    est, task, X = fitted("logistic_regression", frame, "y", n_train=240)
    with pytest.raises(NotConvertible, match="datetime column 'when'"):
        onnx_format.convert(est, X, task)
    y_pred, proba = _outputs(est, task, X)
    path, record = onnx_format.save_checked(est, tmp_path / "m.onnx", task, X, y_pred, proba)
    assert path is None and record["status"] == "not_convertible"
    assert "datetime" in record["reason"] and not (tmp_path / "m.onnx").exists()


def test_without_the_onnx_extra_nothing_is_written_and_the_reason_says_how(monkeypatch,
                                                                          tmp_path):
    est, task, X = fitted("naive_bayes", mixed_table("binary"), "y", n_train=240)
    assert onnx_format.missing() is None
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # import skl2onnx now fails
    reason = onnx_format.missing()
    assert "pip install 'nnvsml[onnx]'" in reason and "skl2onnx" in reason
    path, record = onnx_format.save_checked(est, tmp_path / "m.onnx", task, X,
                                            *_outputs(est, task, X))
    assert path is None and record == {"status": "not_convertible", "reason": reason,
                                       "parity": None}


# ---- networks and other modalities ---------------------------------------------------------------
@pytest.mark.parametrize("name,task", [("mlp", "binary"), ("ft_transformer", "multiclass"),
                                       ("mlp", "regression")])
def test_a_tabular_network_exports_whole_and_matches(name, task, tmp_path):
    est, task, X = fitted(name, mixed_table(task), "y", n_train=240)
    assert est.steps[-1][1].cat_columns_  # the categories reach the network as codes
    # One graph from the raw columns: the feature steps (quantile-normal numbers, missing
    # flags, category codes) in ONNX, then the network; no scikit-learn when serving.
    path, record, model = check(est, task, X, tmp_path, scope="pipeline")
    assert record["converter"] == "skl2onnx+torch.onnx"
    assert [i["column"] for i in model.meta["inputs"]] == list(X.columns)
    assert model.meta["head"]["kind"] == ("scale" if task == "regression" else "softmax")
    # The network alone, its steps run natively, is what a model whose steps do not convert
    # gets; it needs the native model.
    data, meta = onnx_format.convert(est, X, task, whole=False)
    assert meta["scope"] == "network" and meta["converter"] == "torch.onnx"
    alone = tmp_path / "alone.onnx"
    alone.write_bytes(data)
    with pytest.raises(ValueError, match="needs the native model"):
        OnnxModel(alone)
    labels, _ = OnnxModel(alone, est=est).predict(X)
    native = _outputs(est, task, X)[0]
    if task == "regression":
        np.testing.assert_allclose(labels, native, rtol=1e-5)
    else:
        assert list(labels.astype(str)) == list(np.asarray(native).astype(str))


@pytest.mark.parametrize("output", ["normal", "uniform"])
def test_quantile_transformer_matches_scikit_learn_to_float64_precision(output):
    """nnvsml's QuantileTransformer converter (the normal quantile function has no ONNX
    operator) against scikit-learn, over the whole range, at and beyond the extreme
    quantiles, with repeated quantiles and a missing value."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType
    from sklearn.preprocessing import QuantileTransformer

    from nnvsml.deploy import onnx_converters
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    train = np.column_stack([rng.normal(size=500), rng.exponential(size=500),
                             rng.integers(0, 4, 500).astype(float)])  # ties: repeated quantiles
    qt = QuantileTransformer(n_quantiles=200, output_distribution=output).fit(train)
    test = np.vstack([rng.normal(size=(300, 3)) * 3, train.min(0), train.max(0),
                      train.min(0) - 1, train.max(0) + 1, train[:20], [np.nan, 0.0, 1.0]])
    onnx_converters.register()
    graph = convert_sklearn(qt, initial_types=[("x", DoubleTensorType([None, 3]))],
                            target_opset={"": 18, "ai.onnx.ml": 3},
                            **onnx_converters.overrides())
    session = ort.InferenceSession(graph.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": test})[0]
    np.testing.assert_allclose(got, qt.transform(test), rtol=1e-8, atol=1e-8)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    X = np.rint(d.images * (255 / 16)).astype(np.uint8)[..., None]
    return X[:500], d.target[:500]


def _fit_array(name, X, y, n_train, modality, info):
    ctx = BuildContext(task="multiclass", kinds={}, n_train=n_train, seed=0, max_time=None,
                       modality=modality, info=info, n_jobs=1)
    est = get(name).build(ctx)
    final = est.steps[-1][1] if hasattr(est, "steps") else est
    if hasattr(final, "max_epochs"):
        final.set_params(max_epochs=3)
    return est.fit(X[:n_train], y[:n_train])


def test_an_image_cnn_exports_and_matches(digits, tmp_path):
    X, y = digits
    est = _fit_array("cnn", X, y, 400, "image", {"height": 8, "width": 8, "channels": 1})
    path, record, model = check(est, "multiclass", X[400:], tmp_path, scope="network")
    assert model.meta["inputs"][0]["type"] == "uint8"  # scaled inside the graph
    assert model.classes.tolist() == list(range(10))


@pytest.mark.parametrize("name", ["logistic_regression_pixels", "knn_pixels"])
def test_image_pixel_pipelines_convert_whole(name, digits, tmp_path):
    X, y = digits
    est = _fit_array(name, X, y, 400, "image", {"height": 8, "width": 8, "channels": 1})
    _, _, model = check(est, "multiclass", X[400:], tmp_path)
    assert model.meta["inputs"][0]["shape"] == [None, 8, 8, 1]


def test_feature_steps_without_a_converter_say_so(digits, tmp_path):
    X, y = digits
    est = _fit_array("hog_linear_svm", X, y, 400, "image",
                     {"height": 8, "width": 8, "channels": 1})
    path, record = onnx_format.save_checked(est, tmp_path / "m.onnx", "multiclass", X[400:],
                                            *_outputs(est, "multiclass", X[400:]))
    assert path is None and record["status"] == "not_convertible"
    assert record["reason"] == ("HOG features: no ONNX converter; served natively from the "
                                "safe files")
    texts = np.array(["a good film", "a bad film", "good good", "bad bad"] * 10, dtype=object)
    labels = np.array(["pos", "neg", "pos", "neg"] * 10)
    ctx = BuildContext(task="binary", kinds={}, n_train=40, seed=0, modality="text", n_jobs=1)
    est = get("tfidf_logistic_regression").build(ctx).fit(texts, labels)
    with pytest.raises(NotConvertible, match="'char_wb' n-grams"):
        onnx_format.convert(est, texts, "binary")


def test_category_codes_convert_with_zero_for_missing_and_unseen():
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import StringTensorType

    from nnvsml.deploy import onnx_converters
    from nnvsml.models.preprocessing import CategoryCodes

    onnx_converters.register()
    codes = CategoryCodes().fit(pd.DataFrame({"a": ["x", "y", np.nan], "b": ["p", "q", "p"]}))
    model = convert_sklearn(codes, initial_types=[("a", StringTensorType([None, 1])),
                                                  ("b", StringTensorType([None, 1]))],
                            target_opset={"": onnx_format.OPSET, "ai.onnx.ml": 3})
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"a": np.array([["y"], [""], ["z"]], dtype=object),
                             "b": np.array([["p"], ["q"], ["r"]], dtype=object)})[0]
    native = codes.transform(pd.DataFrame({"a": ["y", np.nan, "z"], "b": ["p", "q", "r"]}))
    assert got.tolist() == native.to_numpy().tolist() == [[2, 1], [0, 2], [0, 0]]
