"""ONNX copies of fitted models, checked for parity, and a runner that predicts with them.

Two scopes:

``pipeline``
    The whole fitted pipeline is one ONNX graph (skl2onnx, with onnxmltools for LightGBM and
    :mod:`.onnx_converters` for nnvsml's own steps; a table's network joins its converted
    feature steps to its ``torch.onnx`` graph). A table's graph takes one input per raw
    column the model uses, ``[N, 1]``: float64 for numeric columns (text that is no number:
    NaN), float64 0/1 for boolean ones, strings for categories ("" for missing). Other
    modalities take their array as it is (uint8 images...). ONNX Runtime then answers a row
    without Python in between, apart from putting the table's columns into tensors.
``network``
    An image, text, series or audio network (or a table's whose steps do not convert): its
    steps before the network (tokenizer, spectrogram, scaling) run natively, from the model's
    safe files; the torch module is exported with ``torch.onnx.export`` and runs in ONNX
    Runtime; softmax (or the target's scale) is applied here as the estimator's
    ``predict_proba`` / ``predict`` apply it.

Everything :class:`OnnxModel` needs is in the ``.onnx`` file's ``metadata_props`` (key
``nnvsml``, a JSON document): the scope, the task, the classes, the inputs (name, raw column,
kind, element type), which output holds the probabilities. Nothing is pickled.

The ``onnx`` extra (onnx, onnxruntime, skl2onnx, onnxmltools, onnxscript) is optional: it is
imported only inside functions, and :func:`missing` says when it is not there.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nnvsml.models.steps import final_step

#: Opsets of the graphs written: ONNX 18 (ReduceMax with axes as an input) and the ML domain's
#: 3 (skl2onnx's and onnxmltools' tree ensembles), both run by ONNX Runtime >= 1.14.
OPSET, ML_OPSET = 18, 3
#: The metadata_props key of the JSON document that describes the file to :class:`OnnxModel`.
META_KEY = "nnvsml"
META_VERSION = 1
#: Rows per ONNX Runtime call when predicting many; a network's activations and a
#: neighbour search's distance matrix (rows x training rows, float64) are kept to ~32 MB.
DEFAULT_BATCH_ROWS, NETWORK_BATCH_ROWS, DISTANCE_CELLS = 4096, 512, 4_000_000
#: Column kinds of a table and how each reaches the graph.
_INPUT_TYPES = {"numeric": "float64", "boolean": "float64", "categorical": "string",
                "high_cardinality": "string"}
#: nnvsml steps with no ONNX converter, and why that is fine.
_NATIVE_ONLY = {
    "Rocket": "ROCKET features",
    "HOG": "HOG features",
    "MFCCStats": "MFCC statistics",
    "SummaryFeatures": "series summary statistics",
    "DTWNeighbors": "DTW nearest neighbours",
}


class NotConvertible(Exception):
    """The model (or one of its steps) has no ONNX converter; the message says which and why."""


def missing() -> str | None:
    """None when the ONNX stack imports, else why ONNX copies cannot be made."""
    import importlib

    for module in ("onnx", "onnxruntime", "skl2onnx", "onnxmltools"):
        try:
            importlib.import_module(module)
        except ImportError:
            return f"ONNX needs the onnx extra ({module} is not installed): " \
                   "pip install 'nnvsml[onnx]'"
    return None


# ---- conversion ---------------------------------------------------------------------------------
def convert(est, X_sample, task: str, whole: bool = True) -> tuple[bytes, dict]:
    """The ONNX model of ``est`` as bytes, and what it is: ``scope`` (``"pipeline"`` or
    ``"network"``), ``opset``, ``inputs`` (name, type, shape), ``converter``. ``X_sample`` is
    a few rows in the layout ``est`` takes (a network traces its module on them). A table's
    network is one graph with its feature steps unless ``whole`` is False (or they do not
    convert). Raises :class:`NotConvertible` when a step has no converter."""
    reason = missing()
    if reason:
        raise NotConvertible(reason)
    if hasattr(final_step(est), "net_"):
        model = None
        if whole and _is_table_network(est):
            try:
                model, meta = _convert_table_network(est, X_sample, task)
            except NotConvertible:
                model = None  # the network alone still converts
        if model is None:
            model, meta = _convert_network(est, X_sample, task)
    else:
        model, meta = _convert_pipeline(est, X_sample, task)
    _set_metadata(model, meta)
    public = {"scope": meta["scope"], "opset": meta["opset"], "converter": meta["converter"],
              "inputs": [{"name": i["name"], "type": i["type"], "shape": i["shape"]}
                         for i in meta["inputs"]]}
    return model.SerializeToString(), public


def _set_metadata(model, meta: dict) -> None:
    from onnx import helper

    del model.metadata_props[:]
    helper.set_model_props(model, {META_KEY: json.dumps(meta)})
    model.doc_string = (f"nnvsml {meta['task']} model ({meta['scope']} scope); "
                        f"its inputs are described in metadata_props[{META_KEY!r}]")


def _classes(est, task: str):
    if task == "regression":
        return None
    classes = getattr(est, "classes_", None)
    if classes is None:
        classes = getattr(final_step(est), "classes_", None)
    return None if classes is None else np.asarray(classes).tolist()


# ---- whole pipelines (skl2onnx) -----------------------------------------------------------------
def _convert_pipeline(est, X_sample, task: str):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.exceptions import MissingConverter, MissingShapeCalculator

    from nnvsml.deploy import onnx_converters

    onnx_converters.register()
    _check_steps(est)
    inputs, initial_types = _pipeline_inputs(est, X_sample)
    converter = "skl2onnx+onnxmltools" if _holds_lightgbm(est) else "skl2onnx"
    options = {id(o): {"zipmap": False} for o in _walk(est) if _is_classifier(o)}
    try:
        model = convert_sklearn(est, initial_types=initial_types, options=options,
                                target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
                                **onnx_converters.overrides())
    except onnx_converters.Unsupported as exc:
        raise NotConvertible(f"{exc}: not convertible by {converter}") from None
    except (MissingConverter, MissingShapeCalculator) as exc:
        raise NotConvertible(f"a step has no ONNX converter in {converter} "
                             f"({_first_line(exc)})") from None
    except NotImplementedError as exc:
        raise NotConvertible(f"{converter}: {_first_line(exc)}") from None
    for spec, graph_input in zip(inputs, model.graph.input):
        spec["name"] = graph_input.name  # skl2onnx writes "mean radius" as "mean_radius"
    outputs = [o.name for o in model.graph.output]
    if task == "regression":
        names = {"value": outputs[0], "proba": None}
    else:
        names = {"label": outputs[0], "proba": outputs[1] if len(outputs) > 1 else None}
        if names["proba"] is None:
            raise NotConvertible("the classifier's graph has no probabilities")
    meta = {"version": META_VERSION, "scope": "pipeline", "task": task,
            "classes": _classes(est, task), "inputs": inputs, "outputs": names,
            "batch_rows": _batch_rows(est), "opset": OPSET, "converter": converter}
    return model, meta


def _first_line(exc: Exception) -> str:
    """The first line of an exception's message, without terminal colours."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def _check_steps(est) -> None:
    """Name the first step with no converter, before skl2onnx fails on it less clearly."""
    from nnvsml.models.time_bounded import Calibrated

    for obj in _walk(est):
        name = type(obj).__name__
        if name in _NATIVE_ONLY:
            raise NotConvertible(f"{_NATIVE_ONLY[name]}: no ONNX converter; served natively "
                                 "from the safe files")
        if isinstance(obj, Calibrated) and not hasattr(obj.estimator_, "predict_proba"):
            raise NotConvertible("an uncalibrated classifier's softmax of raw scores: no ONNX "
                                 "converter; served natively from the safe files")
        if name in ("TfidfVectorizer", "CountVectorizer") and obj.analyzer != "word":
            raise NotConvertible(f"TF-IDF of {obj.analyzer!r} n-grams: skl2onnx converts word "
                                 "n-grams only; served natively from the safe files")
        method = getattr(obj, "method", None)
        if type(obj).__name__ == "CalibratedClassifierCV" and method not in ("sigmoid",
                                                                              "isotonic"):
            raise NotConvertible(f"{method} calibration: not convertible by skl2onnx")


def _pipeline_inputs(est, X_sample) -> tuple[list[dict], list]:
    """The graph's inputs: a table's raw columns, or the array of another modality."""
    from skl2onnx.common import data_types as t

    from nnvsml.data import TabularPreparer

    first = est.steps[0][1] if hasattr(est, "steps") else est
    if isinstance(first, TabularPreparer):
        specs, types = [], []
        for column in first.input_columns_:
            kind = first.kinds[column]
            if kind not in _INPUT_TYPES:
                raise NotConvertible(f"the {kind} column {column!r}: no ONNX converter for "
                                     f"its parsing; served natively from the safe files")
            kind_type = _INPUT_TYPES[kind]
            specs.append({"name": column, "column": column, "kind": kind, "type": kind_type,
                          "shape": [None, 1]})
            cls = t.StringTensorType if kind_type == "string" else t.DoubleTensorType
            types.append((column, cls([None, 1])))
        return specs, types
    X = np.asarray(X_sample)
    if X.dtype == object or X.dtype.kind in "US":
        if X.ndim != 1:
            raise NotConvertible("arrays of strings other than one text per row")
        spec = {"name": "X", "column": None, "kind": "text", "type": "string",
                "shape": [None, 1]}
        return [spec], [("X", t.StringTensorType([None, 1]))]
    types = {"uint8": t.UInt8TensorType, "float32": t.FloatTensorType,
             "float64": t.DoubleTensorType, "int64": t.Int64TensorType}
    if X.dtype.name not in types:
        raise NotConvertible(f"arrays of {X.dtype.name}: no ONNX input type")
    shape = [None, *X.shape[1:]]
    spec = {"name": "X", "column": None, "kind": "array", "type": X.dtype.name, "shape": shape}
    return [spec], [("X", types[X.dtype.name](shape))]


def _walk(obj):
    """``obj`` and every estimator inside it (pipelines, column transformers, unions,
    nnvsml's wrappers, calibrators, target transformers)."""
    yield obj
    children = []
    if hasattr(obj, "steps"):
        children += [s for _, s in obj.steps]
    if hasattr(obj, "transformers_"):
        children += [t for _, t, _ in obj.transformers_]
    if hasattr(obj, "transformer_list"):
        children += [t for _, t in obj.transformer_list]
    for attr in ("estimator_", "regressor_", "transformer_"):
        if hasattr(obj, attr):
            children.append(getattr(obj, attr))
    for calibrated in getattr(obj, "calibrated_classifiers_", None) or ():
        children.append(calibrated.estimator)
    for child in children:
        if child is not None and not isinstance(child, str):
            yield from _walk(child)


def _is_classifier(obj) -> bool:
    """A classifier whose converter takes the ``zipmap`` option (the classifier inside a
    calibrator does not: the calibrator's converter converts it)."""
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_converter
    from sklearn.base import is_classifier

    if not is_classifier(obj) or type(obj) not in sklearn_operator_name_map:
        return False
    try:
        allowed = get_converter(sklearn_operator_name_map[type(obj)]).get_allowed_options()
    except (ValueError, KeyError):
        return False
    return bool(allowed) and "zipmap" in allowed


def _batch_rows(est) -> int:
    """Rows per ONNX Runtime call: fewer when a step compares each row with stored rows
    (k nearest neighbours, kernel SVMs)."""
    stored = [len(o._fit_X) for o in _walk(est) if hasattr(o, "_fit_X")]
    stored += [len(o.support_vectors_) for o in _walk(est) if hasattr(o, "support_vectors_")]
    if not stored:
        return DEFAULT_BATCH_ROWS
    return int(min(DEFAULT_BATCH_ROWS, max(1, DISTANCE_CELLS // max(stored))))


def _holds_lightgbm(est) -> bool:
    return any(type(o).__module__.startswith("lightgbm") for o in _walk(est))


# ---- networks (torch.onnx) ----------------------------------------------------------------------
def _convert_network(est, X_sample, task: str):
    import onnx

    final = final_step(est)
    inputs = _network_tensors(est, X_sample, rows=min(4, len(X_sample)))
    names = list(inputs)
    module = final.net_.module_
    module.eval()
    try:
        data = _export(module, inputs)
    except NotConvertible:
        raise
    except Exception as exc:  # the exporters raise many kinds
        raise NotConvertible(f"the {_module_name(module)} network does not export to ONNX "
                             f"({type(exc).__name__}: {_first_line(exc)})") from None
    model = onnx.load_from_string(data)
    kept = {i.name for i in model.graph.input}
    specs = [{"name": n, "column": None, "kind": "tensor",
              "type": str(inputs[n].dtype).removeprefix("torch."),
              "shape": [None, *inputs[n].shape[1:]]} for n in names if n in kept]
    head = {"kind": "softmax"} if task != "regression" else {
        "kind": "scale", "mean": float(final.y_mean_), "std": float(final.y_std_)}
    meta = {"version": META_VERSION, "scope": "network", "task": task,
            "classes": _classes(est, task), "inputs": specs,
            "outputs": {"logits": model.graph.output[0].name}, "head": head,
            "batch_rows": NETWORK_BATCH_ROWS,
            "module": f"{type(module).__module__}.{type(module).__qualname__}",
            "opset": OPSET, "converter": "torch.onnx"}
    return model, meta


def _is_table_network(est) -> bool:
    from nnvsml.data import TabularPreparer

    return (hasattr(est, "steps") and isinstance(est.steps[0][1], TabularPreparer)
            and hasattr(final_step(est), "cat_cardinalities_"))


def _convert_table_network(est, X_sample, task: str):
    """A table's network as one graph taking the raw columns: its feature steps converted by
    skl2onnx (:mod:`.onnx_converters`), the estimator's own split of their output into
    numbers (float32, non-finite as 0) and category codes (int64, unknown as 0), then the
    network from ``torch.onnx``. ONNX Runtime then answers a row without scikit-learn."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.exceptions import MissingConverter, MissingShapeCalculator

    from nnvsml.deploy import onnx_converters

    onnx_converters.register()
    features = est[:-1]
    _check_steps(features)
    inputs, initial_types = _pipeline_inputs(est, X_sample)
    try:
        prep = convert_sklearn(features, initial_types=initial_types,
                               target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
                               **onnx_converters.overrides())
    except (onnx_converters.Unsupported, MissingConverter, MissingShapeCalculator,
            NotImplementedError, RuntimeError) as exc:
        raise NotConvertible(f"the feature steps do not convert ({_first_line(exc)})") from None
    if len(prep.graph.output) != 1:
        raise NotConvertible("the feature steps' graph has more than one output")
    for spec, graph_input in zip(inputs, prep.graph.input):
        spec["name"] = graph_input.name
    network, net_meta = _convert_network(est, X_sample, task)
    wanted = [i.name for i in network.graph.input]
    final = final_step(est)
    is_cat = final._is_categorical()
    matrix = prep.graph.output[0].name
    nodes, constants = [], []

    def node(op_type, inputs_, output, **attrs):
        nodes.append(helper.make_node(op_type, inputs_, [output], **attrs))
        return output

    def const(name, value):
        constants.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    outputs = []
    if "x_num" in wanted:  # as _tensors: cast to float32 first, then non-finite -> 0
        picked = node("Gather", [matrix, const("nn_num_cols", np.flatnonzero(~is_cat))],
                      "nn_num64", axis=1)
        num = node("Cast", [picked], "nn_num32", to=TensorProto.FLOAT)
        bad = node("Or", [node("IsNaN", [num], "nn_nan"), node("IsInf", [num], "nn_inf")],
                   "nn_bad")
        node("Where", [bad, const("nn_zero32", np.float32(0.0)), num], "x_num")
        outputs.append(helper.make_tensor_value_info("x_num", TensorProto.FLOAT,
                                                     [None, int((~is_cat).sum())]))
    if "x_cat" in wanted:  # missing, negative and unseen codes are 0
        picked = node("Gather", [matrix, const("nn_cat_cols", np.flatnonzero(is_cat))],
                      "nn_cat64", axis=1)
        cards = np.asarray(final.cat_cardinalities_, dtype=np.float64).reshape(1, -1)
        ok = node("And", [node("GreaterOrEqual", [picked, const("nn_zero64", 0.0)], "nn_ge"),
                          node("Less", [picked, const("nn_cards", cards)], "nn_lt")], "nn_ok")
        kept = node("Where", [ok, picked, "nn_zero64"], "nn_codes")
        node("Cast", [kept], "x_cat", to=TensorProto.INT64)
        outputs.append(helper.make_tensor_value_info("x_cat", TensorProto.INT64,
                                                     [None, int(is_cat.sum())]))
    prep.graph.node.extend(nodes)
    prep.graph.initializer.extend(constants)
    del prep.graph.output[:]
    prep.graph.output.extend(outputs)
    network.ir_version = prep.ir_version = max(network.ir_version, prep.ir_version)
    try:
        model = onnx.compose.merge_models(prep, network, io_map=[(n, n) for n in wanted],
                                          prefix2="net/")
    except Exception as exc:  # onnx.compose raises ValueError and checker errors
        raise NotConvertible(f"the feature steps and the network do not join "
                             f"({_first_line(exc)})") from None
    meta = {**net_meta, "scope": "pipeline", "inputs": inputs,
            "outputs": {"logits": model.graph.output[0].name},
            "converter": "skl2onnx+torch.onnx"}
    return model, meta


def _module_name(module) -> str:
    """The architecture's class (an image, text, series or audio network wraps it)."""
    return type(getattr(module, "body", module)).__name__


def _network_tensors(est, X, rows: int | None = None) -> dict:
    """The module's inputs for rows of ``X``, as the estimator itself makes them: the steps
    before the network, then the estimator's own tensors."""
    if rows is not None:
        X = X.iloc[:rows] if hasattr(X, "iloc") else X[:rows]
    final = final_step(est)
    if final is not est:
        X = est[:-1].transform(X)
    tensors = final._tensors(final._validate(X, reset=False))
    return dict(tensors) if isinstance(tensors, dict) else {"x": tensors}


def _export(module, inputs: dict) -> bytes:
    """The TorchScript exporter (``dynamo=False``) first: a fraction of a second for these small
    modules, and nothing but torch. It cannot express some modules (an adaptive pooling whose
    output size does not divide its input: the small CNN on 8x8 digits), and torch announces
    its removal; then the torch.export-based exporter (torch's default since 2.9, which needs
    onnxscript): seconds per module, but it decomposes such operators. Batch is the one dynamic
    axis. Both print to the process's stdout/stderr (graphs, registry warnings): silenced."""
    import io
    import warnings

    import torch

    args = tuple(inputs.values())
    names = list(inputs)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad(), _silenced():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, args, buffer, input_names=names, output_names=["logits"],
                              dynamic_axes={n: {0: "batch"} for n in [*names, "logits"]},
                              opset_version=OPSET, dynamo=False)
            return buffer.getvalue()
        except Exception as exc:  # noqa: BLE001  (the other exporter gets its chance)
            first = exc
        try:
            batch = torch.export.Dim("batch")
            program = torch.onnx.export(module, args, input_names=names,
                                        output_names=["logits"],
                                        dynamic_shapes=tuple({0: batch} for _ in args),
                                        opset_version=OPSET, dynamo=True, verbose=False)
            return program.model_proto.SerializeToString()
        except Exception as exc:
            raise NotConvertible(
                f"the {_module_name(module)} network does not export to ONNX (TorchScript "
                f"exporter: {type(first).__name__}: {_first_line(first)}; torch.export-based: "
                f"{type(exc).__name__}: {_first_line(exc)})") from None


class _silenced:
    """Send file descriptors 1 and 2 to nowhere for a while: torch's exporters write there from
    C++ as well as from Python."""

    def __enter__(self):
        import os
        import sys

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, ValueError, OSError):
                pass
        self._saved = []
        try:
            null = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            return self
        for fd in (1, 2):
            try:
                self._saved.append((fd, os.dup(fd)))
                os.dup2(null, fd)
            except OSError:
                pass
        os.close(null)
        return self

    def __exit__(self, *exc):
        import os
        import sys

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, ValueError, OSError):
                pass
        for fd, saved in self._saved:
            os.dup2(saved, fd)
            os.close(saved)
        return False


# ---- writing and checking -----------------------------------------------------------------------
def save_checked(est, path: Path, task: str, X, y_pred, proba) -> tuple[Path | None, dict]:
    """Convert ``est``, write ``path``, load it back in ONNX Runtime and check that it predicts
    ``y_pred`` / ``proba`` on ``X`` (:func:`nnvsml.deploy.safe.parity`). Returns the path (None
    when there is no file) and the record: status ``"ok"``, ``"not_convertible"`` or
    ``"failed"``, the reason, the parity, the scope and the converter. Never raises for a
    model that does not convert; a file that fails parity is deleted."""
    from nnvsml.deploy.safe import parity

    path = Path(path)
    kept, record = _save_checked(est, path, task, X, y_pred, proba, whole=True)
    if kept is None and record.get("scope") == "pipeline" and _is_table_network(est):
        # The feature steps in ONNX did not predict what the model does: the network alone.
        kept, record = _save_checked(est, path, task, X, y_pred, proba, whole=False)
    return kept, record


def _save_checked(est, path: Path, task: str, X, y_pred, proba, whole: bool):
    from nnvsml.deploy.safe import parity

    try:
        data, meta = convert(est, X, task, whole=whole)
    except NotConvertible as exc:
        return None, {"status": "not_convertible", "reason": str(exc)[:300], "parity": None}
    except Exception as exc:  # a converter's bug is recorded, not fatal
        return None, {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:300],
                      "parity": None}
    record = None
    try:
        path.write_bytes(data)
        model = OnnxModel(path, est=est if meta["scope"] == "network" else None)
        record = parity(model.predict(X), y_pred, proba)
        reason = None if record["ok"] else "the ONNX copy does not predict what the model does"
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
    if reason is not None:
        path.unlink(missing_ok=True)
        return None, {"status": "failed", "reason": reason[:300], "parity": record,
                      "scope": meta["scope"], "converter": meta["converter"]}
    return path, {"status": "ok", "reason": None, "scope": meta["scope"], "parity": record,
                  "converter": meta["converter"], "opset": meta["opset"],
                  "size_kb": round(path.stat().st_size / 1024.0, 1)}


def read_metadata(path: Path) -> dict:
    """The nnvsml document in an ONNX file's metadata_props (no graph is built)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    if META_KEY not in props:
        raise ValueError(f"{Path(path).name} is not an ONNX file written by nnvsml")
    return json.loads(props[META_KEY])


# ---- predicting ---------------------------------------------------------------------------------
class OnnxModel:
    """An ONNX file written by :func:`save_checked`, run by ONNX Runtime on the CPU.

    ``predict(X)`` takes exactly what the native model takes (a table of raw columns, or the
    modality's array) and returns what :func:`nnvsml.protocol.worker._outputs` returns: the
    labels (a classifier's most probable class) and the probabilities, or the predictions and
    None for regression. A network file (scope ``"network"``) needs ``est``, the native model
    loaded from its safe files: its steps before the network run natively.
    """

    def __init__(self, path: Path, est=None, threads: int = 1):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle worker threads spin by default, waiting for the next run: in a service between
        # requests (and beside the user's other work) that burns a core for nothing.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
        document = self.session.get_modelmeta().custom_metadata_map.get(META_KEY)
        if document is None:
            raise ValueError(f"{Path(path).name} is not an ONNX file written by nnvsml")
        self.meta = json.loads(document)
        self.scope = self.meta["scope"]
        self.task = self.meta["task"]
        classes = self.meta.get("classes")
        self.classes = None if classes is None else np.asarray(classes)
        if self.scope == "network" and est is None:
            raise ValueError("a network's ONNX file needs the native model (its steps before "
                             "the network run natively): pass est")
        self.est = est
        self._input_names = {i.name for i in self.session.get_inputs()}
        self._inputs = [i for i in self.meta["inputs"] if i["name"] in self._input_names]
        self._table = (_TableFeed(self._inputs)
                       if self._inputs and self._inputs[0]["kind"] in _INPUT_TYPES else None)
        outputs = self.meta["outputs"]
        self._output = [outputs.get("logits") or outputs.get("proba") or outputs.get("value")]
        self._batch = int(self.meta.get("batch_rows") or DEFAULT_BATCH_ROWS)

    def _feed(self, X) -> dict:
        if self.scope == "network":
            tensors = _network_tensors(self.est, X)
            return {k: v.numpy() for k, v in tensors.items() if k in self._input_names}
        if self._table is not None:
            return self._table(X)
        spec = self._inputs[0]  # another modality's array
        X = np.asarray(X)
        if spec["kind"] == "text":
            return {spec["name"]: X.astype(str).astype(object).reshape(-1, 1)}
        return {spec["name"]: np.ascontiguousarray(X, dtype=spec["type"])}

    def predict_row(self, row: dict) -> tuple[np.ndarray, np.ndarray | None] | None:
        """:meth:`predict` of one JSON row (column -> value, the model's columns all present),
        or None when only :meth:`predict` of its table can read it."""
        feed = None if self._table is None or self.scope == "network" else self._table.row(row)
        return None if feed is None else self._outputs(self.session.run(self._output, feed)[0])

    def predict(self, X) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels and probabilities (None for regression), as the native model gives them;
        many rows go through ONNX Runtime in parts of ``batch_rows`` (a k-nearest-neighbour
        graph holds a rows x training rows distance matrix)."""
        n = len(X)
        if n <= self._batch:
            return self._predict(X)
        parts = [self._predict(X.iloc[i:i + self._batch] if hasattr(X, "iloc")
                               else X[i:i + self._batch]) for i in range(0, n, self._batch)]
        labels = np.concatenate([p[0] for p in parts])
        return labels, None if parts[0][1] is None else np.concatenate([p[1] for p in parts])

    def _predict(self, X) -> tuple[np.ndarray, np.ndarray | None]:
        return self._outputs(self.session.run(self._output, self._feed(X))[0])

    def _outputs(self, out) -> tuple[np.ndarray, np.ndarray | None]:
        if "head" in self.meta:  # a network's logits (its graph alone, or with its steps)
            head = self.meta["head"]
            if head["kind"] == "scale":
                values = np.asarray(out, dtype=np.float64).ravel()
                return values * head["std"] + head["mean"], None
            proba = _softmax(np.asarray(out, dtype=np.float64))
        elif self.task == "regression":
            return np.asarray(out, dtype=np.float64).ravel(), None
        else:
            proba = np.asarray(out, dtype=np.float64)
        return self.classes[np.argmax(proba, axis=1)], proba


def _softmax(logits: np.ndarray) -> np.ndarray:
    """In float64, as the estimators' ``predict_proba`` (torch.softmax of the doubled logits)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


class _TableFeed:
    """A raw table's columns as the graph's tensors ``[N, 1]``, typed as
    :class:`~nnvsml.data.TabularPreparer` types them: numbers (text that is no number: NaN),
    yes/no words as 1/0, categories written as their labels ("" for a missing one). Infinities
    stay for the graph to drop, as its preparer step does.

    One row is what a service answers: the table is read once as a numpy array and the
    columns' positions are kept from the last table with the same columns (per column pandas
    access cost 0.3 ms for 30 columns, this 0.03 ms)."""

    def __init__(self, inputs: list[dict]):
        self.inputs = inputs
        self.columns = [i["column"] for i in inputs]
        self._key = self._positions = None

    def __call__(self, X) -> dict:
        import pandas as pd

        from nnvsml.errors import InputError

        if not isinstance(X, pd.DataFrame):
            raise InputError(f"expected a table (pandas DataFrame) with named columns, got "
                             f"{type(X).__name__}")
        key = tuple(X.columns)
        if key != self._key:
            if not all(isinstance(c, str) for c in key):
                X = X.rename(columns=str)
            positions = X.columns.get_indexer(self.columns)
            absent = [c for c, p in zip(self.columns, positions) if p < 0]
            if absent:
                shown = ", ".join(repr(c) for c in absent[:10]) + (" ..." if len(absent) > 10
                                                                    else "")
                raise InputError(f"the table lacks {len(absent)} column(s) the model needs: "
                                 f"{shown}; pass a table with the same columns as the training "
                                 "data")
            if len(set(X.columns)) != len(X.columns):
                raise InputError("the table has columns of the same name; name each once")
            self._key, self._positions = key, positions
        kinds = [d.kind for d in X.dtypes.to_numpy()]
        values = X.to_numpy()
        feed = {}
        for spec, p in zip(self.inputs, self._positions):
            feed[spec["name"]] = _column(X, values, p, kinds[p], spec["kind"]).reshape(-1, 1)
        return feed

    def row(self, row: dict) -> dict | None:
        """The tensors of one JSON row, as :meth:`__call__` makes them from its one-row table,
        without building the table (that was most of a served request's time); None when a
        value needs pandas' parsing (text in a number column), so the caller builds the table."""
        feed = {}
        for spec in self.inputs:
            value = row[spec["column"]]
            if spec["kind"] == "numeric":
                if not (value is None or isinstance(value, (int, float))):
                    return None
                value = np.nan if value is None else float(value)
                feed[spec["name"]] = np.array([[value]], dtype=np.float64)
            else:
                feed[spec["name"]] = _encoded([value], spec["kind"]).reshape(1, 1)
        return feed


def _column(X, values: np.ndarray, p: int, dtype_kind: str, kind: str) -> np.ndarray:
    raw = values[:, p]
    if kind == "numeric":
        if dtype_kind in "fiu":
            try:
                return raw.astype(np.float64)
            except (TypeError, ValueError):  # a nullable column's pd.NA
                pass
        import pandas as pd

        return pd.to_numeric(X.iloc[:, p], errors="coerce").to_numpy(dtype=np.float64,
                                                                     na_value=np.nan)
    return _encoded(raw, kind)


def _encoded(values, kind: str) -> np.ndarray:
    """A boolean column's values as 1/0 (NaN when missing), a category's as their labels (""
    when missing)."""
    from nnvsml.data.columns import _boolean_value, _label

    if kind == "boolean":
        return np.array([np.nan if _is_missing(v) else _boolean_value(v) for v in values],
                        dtype=np.float64)
    return np.array(["" if _is_missing(v) else _label(v) for v in values], dtype=object)


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


__all__ = ["NotConvertible", "OnnxModel", "convert", "missing", "read_metadata",
           "save_checked"]
