"""One declaration adds a network architecture: its module, its search space and its candidate."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from torch import nn

from nnvsml.models import REGISTRY, BuildContext
from nnvsml.models.network_registry import ARCHITECTURES, register_network
from nnvsml.models.neural import ARRAY_ARCHITECTURES

NAME = "toy_pool_net_of_the_registry_test"


class ToyPoolNet(nn.Module):
    """Average pooling to 2x2 cells, then one linear layer."""

    def __init__(self, input_shape, n_out, dropout=0.0):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(input_shape[0] * 4, n_out))

    def forward(self, x):
        return self.head(self.pool(x).flatten(1))


def _images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """8x8 one-channel images: class 1 bright on the left half, class 0 on the right."""
    y = rng.integers(0, 2, n)
    X = rng.integers(0, 60, (n, 8, 8, 1))
    X[y == 1, :, :4] += 150
    X[y == 0, :, 4:] += 150
    return X.astype(np.uint8), y


def _unregister(name: str) -> None:
    REGISTRY.pop(name, None)
    ARCHITECTURES.pop(name, None)


def test_one_declaration_registers_an_architecture_that_trains():
    X, y = _images(120, np.random.default_rng(0))
    try:
        cand = register_network(
            NAME, module=__name__, cls="ToyPoolNet", kind="image", dropout=0.1,
            description="toy: pooling and a linear layer",
            augment={"max_shift": 1, "max_rotation": 0.0, "hflip": False})
        assert REGISTRY[NAME] is cand and list(REGISTRY)[-1] == NAME
        assert ARRAY_ARCHITECTURES[NAME] == (__name__, "ToyPoolNet", "image")
        assert cand.modalities == {"image"} and cand.time_aware
        assert set(cand.space) == {"lr", "weight_decay", "dropout"}
        assert cand.space["dropout"].default == 0.1

        ctx = BuildContext(task="binary", kinds={}, n_train=80, modality="image", max_time=60.0)
        model = cand.build(ctx).set_params(max_epochs=2)
        assert model.arch_params == {"dropout": 0.1} and model.augment["max_shift"] == 1
        model.fit(X[:80], y[:80])
        assert model.n_epochs_ == 2 and model.stopped_by_ == "max_epochs"
        assert isinstance(model.net_.module_.body, ToyPoolNet)
        assert model.predict(X[80:]).shape == (40,)
        proba = model.predict_proba(X[80:])
        assert proba.shape == (40, 2) and np.allclose(proba.sum(1), 1.0)

        # The isolated worker gets the candidate pickled, in a process where the declaring
        # module may never have run: the build brings its architecture along.
        ARCHITECTURES.pop(NAME)
        again = pickle.loads(pickle.dumps(cand))
        assert again.build(ctx).arch == NAME and ARCHITECTURES[NAME].cls == "ToyPoolNet"
    finally:
        _unregister(NAME)
    assert NAME not in REGISTRY and NAME not in ARRAY_ARCHITECTURES


def test_a_declaration_that_conflicts_registers_nothing():
    before = list(REGISTRY)
    with pytest.raises(ValueError, match="kind must be one of"):
        register_network(NAME, module=__name__, cls="ToyPoolNet", kind="video", description="")
    with pytest.raises(ValueError, match="already registered"):  # another module under "cnn"
        register_network(NAME, arch="cnn", module=__name__, cls="ToyPoolNet", kind="image",
                         description="")
    with pytest.raises(ValueError, match="already registered"):  # a candidate's name
        register_network("cnn", arch=NAME, module=__name__, cls="ToyPoolNet", kind="image",
                         description="")
    assert list(REGISTRY) == before and NAME not in ARCHITECTURES
