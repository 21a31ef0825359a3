"""Model files that can be loaded without unpickling: the fitted pipeline as skops, a network's
weights as safetensors with its architecture as JSON.

A joblib pickle runs code when it is loaded, so it is safe only for files one wrote oneself
(:mod:`nnvsml.artifacts` signs those). skops stores objects as data and builds on loading only
the types it is told to trust: here scikit-learn's own, LightGBM's, and nnvsml's (the code that
reads them is this package's); a file that names any other type is refused. A network's module
is not stored at all: the estimator rebuilds it from its own fitted sizes and loads the weights.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from nnvsml.models.steps import final_step

#: Types outside scikit-learn's defaults that an nnvsml pipeline holds.
TRUSTED = frozenset({
    "collections.OrderedDict", "numpy.dtype", "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier", "lightgbm.sklearn.LGBMRegressor",
})
#: Packages whose every type skops may build: scikit-learn's (its trees, calibrators...) and
#: nnvsml's own.
TRUSTED_PACKAGES = ("sklearn.", "nnvsml.")
#: The files of a model in the safe format, by role, as suffixes of one stem.
SUFFIXES = {"pipeline": ".skops", "weights": ".safetensors", "network": ".net.json"}


class UnsafeModelFile(ValueError):
    """A model file that names types this package does not build, or does not load."""


def save(est, stem: Path) -> dict[str, Path]:
    """Write ``est`` as ``stem.skops`` (and, for a network, ``stem.safetensors`` and
    ``stem.net.json``); returns the files by role."""
    import skops.io as sio

    est, network = _without_network(est)
    files = {"pipeline": _path(stem, "pipeline")}
    if network is not None:
        from safetensors.torch import save_file

        module, description = network
        files["weights"] = _path(stem, "weights")
        files["network"] = _path(stem, "network")
        state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
        save_file(state, str(files["weights"]))
        files["network"].write_text(json.dumps(description, indent=2, default=_plain) + "\n")
    _plain_vocabularies(est)
    sio.dump(est, files["pipeline"])
    return files


def _plain_vocabularies(est) -> None:
    """Make a fitted text vectorizer's vocabulary map terms to Python ints (scikit-learn leaves
    numpy ints there). skops writes each numpy scalar as a file of its own in the zip: a
    vocabulary of 13,000 terms took 2 s to write and 3.4 s to read back, more than a small
    model's whole share of the budget. The values are equal, so the model is unchanged."""
    parts = est.get_params(deep=True).values() if hasattr(est, "get_params") else ()
    for part in (est, *parts):
        vocabulary = getattr(part, "vocabulary_", None)
        if isinstance(vocabulary, dict) and any(not isinstance(v, int) for v in vocabulary.values()):
            part.vocabulary_ = {term: int(i) for term, i in vocabulary.items()}


def load(files: dict[str, Path]):
    """The model written by :func:`save`, built only from trusted types."""
    import skops.io as sio

    path = Path(files["pipeline"])
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a corrupt or foreign file: skops raises many kinds
        raise UnsafeModelFile(f"{path.name} is not a skops model file ({exc})") from None
    foreign = [t for t in untrusted if t not in TRUSTED and not t.startswith(TRUSTED_PACKAGES)]
    if foreign:
        raise UnsafeModelFile(f"{path.name} names types nnvsml does not build: "
                              f"{', '.join(foreign[:5])}")
    est = sio.load(path, trusted=untrusted)
    if files.get("weights"):
        _attach_network(est, Path(files["weights"]), Path(files["network"]))
    return est


def _plain(value):
    """Arrays in a module's arguments (an image network's channel means) as nested lists:
    the module turns them back into tensors when it is rebuilt."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not plain data")


def _path(stem: Path, role: str) -> Path:
    return stem.with_name(stem.name + SUFFIXES[role])


def _without_network(est):
    """A copy of ``est`` whose network estimator holds no torch objects, and the module with
    what rebuilding it takes (None for a model without a network)."""
    final = final_step(est)
    if hasattr(final, "detach_network"):  # a network estimator of nnvsml's own, not skorch's
        bare, module, description = final.detach_network()
        json.dumps(description, default=_plain)
        if final is est:
            return bare, (module, description)
        est = copy.copy(est)
        est.steps = est.steps[:-1] + [(est.steps[-1][0], bare)]
        return est, (module, description)
    if not hasattr(final, "net_"):
        return est, None
    module_cls, kwargs = final._module()
    description = {
        "module": f"{module_cls.__module__}.{module_cls.__qualname__}",
        "kwargs": kwargs,
        "n_out": _n_out(final),
        "n_parameters": int(sum(p.numel() for p in final.net_.module_.parameters())),
    }
    json.dumps(description, default=_plain)  # what is not plain data fails here, at save time
    bare = copy.copy(final)
    del bare.net_
    if hasattr(bare, "callbacks"):
        bare.callbacks = None  # a tuner's pruning callback holds its study
    if final is est:
        return bare, (final.net_.module_, description)
    est = copy.copy(est)
    est.steps = est.steps[:-1] + [(est.steps[-1][0], bare)]
    return est, (final.net_.module_, description)


def _n_out(final) -> int:
    return len(final.classes_) if hasattr(final, "classes_") else 1


def _attach_network(est, weights: Path, network: Path) -> None:
    """Rebuild the network's module from the fitted estimator's own sizes, check it against
    the description, and load the weights."""
    from safetensors.torch import load_file

    from nnvsml.models.neural.loader import BatchIterator

    final = final_step(est)
    description = json.loads(network.read_text())
    if hasattr(final, "attach_network"):
        try:
            final.attach_network(load_file(str(weights)), description)
        except (RuntimeError, OSError, ValueError) as exc:
            raise UnsafeModelFile(f"{weights.name} does not hold this network's weights") from exc
        return
    module_cls, kwargs = final._module()
    name = f"{module_cls.__module__}.{module_cls.__qualname__}"
    if description.get("module") != name or description.get("n_out") != _n_out(final):
        raise UnsafeModelFile(f"{network.name} describes a network other than its pipeline's")
    skorch_kwargs = {k: v for k, v in final._skorch_kwargs.items() if k.startswith("criterion")}
    net = final._skorch_class(
        module=module_cls, **{f"module__{k}": v for k, v in kwargs.items()},
        module__n_out=_n_out(final), iterator_valid=BatchIterator,
        batch_size=final.batch_size, device="cpu", train_split=None, **skorch_kwargs)
    net.initialize()
    try:
        net.module_.load_state_dict(load_file(str(weights)))
    except (RuntimeError, OSError) as exc:
        raise UnsafeModelFile(f"{weights.name} does not hold this network's weights") from exc
    net.module_.eval()
    final.net_ = net


#: Parity: a loaded copy must give the same labels, and probabilities within this (regression:
#: predictions within this relative difference).
PROBA_TOLERANCE, RELATIVE_TOLERANCE = 1e-4, 1e-5


def parity(outputs: tuple, y_pred, proba) -> dict:
    """How the predictions ``outputs`` (labels, probabilities or None) of a loaded copy compare
    with the native model's ``y_pred`` and ``proba`` on the same rows."""
    import numpy as np

    new_pred, new_proba = outputs
    record = {"rows": int(len(y_pred))}
    if proba is None or len(np.shape(proba)) < 2:  # regression
        a, b = np.asarray(y_pred, dtype=float), np.asarray(new_pred, dtype=float)
        scale = np.maximum(np.abs(a), 1e-12)
        record["max_relative_diff"] = float(np.max(np.abs(a - b) / scale, initial=0.0))
        record["ok"] = record["max_relative_diff"] <= RELATIVE_TOLERANCE
        return record
    record["labels_equal"] = bool(np.array_equal(np.asarray(new_pred).astype(str),
                                                 np.asarray(y_pred).astype(str)))
    record["max_abs_diff"] = float(np.max(np.abs(np.asarray(new_proba) - proba), initial=0.0))
    record["ok"] = record["labels_equal"] and record["max_abs_diff"] <= PROBA_TOLERANCE
    return record


def save_checked(est, stem: Path, predict, X, y_pred, proba) -> tuple[dict[str, Path], dict]:
    """:func:`save`, then load the files back and check parity on ``X`` (``predict(model, X)``
    gives labels and probabilities). Returns the files (none when they failed) and the record
    of the format: its status, and its parity or why it failed."""
    files: dict[str, Path] = {}
    try:
        files = save(est, stem)
        record = parity(predict(load(files), X), y_pred, proba)
    except Exception as exc:  # a model this format cannot hold is recorded, not fatal
        reason = f"{type(exc).__name__}: {exc}"
        record = None
    else:
        reason = None if record["ok"] else "the loaded copy does not predict what the model does"
    if reason is not None:
        for path in files.values():
            path.unlink(missing_ok=True)
        return {}, {"status": "failed", "reason": reason[:300], "parity": record}
    return files, {"status": "ok", "reason": None, "parity": record}
