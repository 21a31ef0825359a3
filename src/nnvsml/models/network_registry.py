"""One declaration per network architecture for images, text, sequences and audio.

:func:`register_network` does everything a new architecture needs: it records where the module
lives and what input it takes (so ``ArrayNetClassifier(arch=name)`` finds it, importing the
module only when a network is built), gives it its search space, and registers its
:class:`~nnvsml.models.registry.Candidate` with the build every network shares. The
built-in declarations are in :mod:`nnvsml.models.array_networks`. Nothing here imports torch.

Example (the module's constructor takes ``(input_shape, n_out, **arch_params)``, or
``(vocab_size, input_shape, n_out, **arch_params)`` for token input, and returns logits)::

    register_network(
        "my_cnn", module="mypackage.nets", cls="MyCNN", kind="image", dropout=0.2,
        description="my CNN: ...", augment=AUGMENT)
"""

from __future__ import annotations

import copy
import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from nnvsml.models import spaces
from nnvsml.models.registry import BuildContext, Candidate, register
from nnvsml.models.space import Space

CLASSIFICATION = frozenset({"binary", "multiclass"})


class Architecture(NamedTuple):
    """Where a network module lives and what it takes: ``module`` is the dotted path of its
    file, ``cls`` the class name in it, ``kind`` a key of :data:`INPUT_KINDS`."""

    module: str
    cls: str
    kind: str

    def load(self) -> type:
        return getattr(importlib.import_module(self.module), self.cls)


#: Architecture name -> :class:`Architecture`, filled by :func:`register_network`.
ARCHITECTURES: dict[str, Architecture] = {}


# ---- the build every network shares -----------------------------------------------------------
#: On small training sets an epoch is a handful of optimizer steps (50 UCR series: 2 batches),
#: so patience and the epoch cap are set in steps: early stopping waits at least this many
#: steps without improvement, and training may run this many steps, before time runs out.
MIN_PATIENCE_STEPS = 400
MIN_TRAINING_STEPS = 4_000
VALID_FRACTION = 0.15


def small_data_schedule(n_train: int, batch_size: int = 32) -> dict:
    """Batch size, patience and epoch cap for fewer than 2,000 training rows: patience of at
    least 20 epochs and ``MIN_PATIENCE_STEPS`` steps, at least 300 epochs and
    ``MIN_TRAINING_STEPS`` steps (the time limit still ends training first)."""
    steps = max(1, math.ceil(n_train * (1 - VALID_FRACTION) / batch_size))
    return {"batch_size": batch_size,
            "patience": max(20, math.ceil(MIN_PATIENCE_STEPS / steps)),
            "max_epochs": max(300, math.ceil(MIN_TRAINING_STEPS / steps))}


def array_net(ctx: BuildContext, arch: str, space: Space, arch_params: dict | None = None,
              **hyperparameters):
    """An :class:`~nnvsml.models.neural.ArrayNetClassifier` for ``arch``, bounded by the
    candidate's time share, with its tuned (or default) hyperparameters. Small training sets get
    small batches (more updates per epoch) and patience counted in optimizer steps (their
    validation loss is noisy, and an epoch is a few steps: FCN on GunPoint's 50 series stopped
    after ~60 steps at 0.73 test accuracy)."""
    # Imported here so that runs without networks never pay for importing torch.
    from nnvsml.models.neural import ArrayNetClassifier

    if ctx.n_train < 2_000:
        defaults = small_data_schedule(ctx.n_train)
    else:
        defaults = {"batch_size": 128, "patience": 6, "max_epochs": 100}
    hp = ctx.hyper(space)
    arch_params = dict(arch_params or {})
    if "dropout" in hp:
        arch_params["dropout"] = hp.pop("dropout")
    return ArrayNetClassifier(arch=arch, max_time=ctx.max_time, random_state=ctx.seed,
                              valid_fraction=VALID_FRACTION, arch_params=arch_params or None,
                              **{**defaults, **hyperparameters, **hp})


def tokenized(ctx: BuildContext, net):
    """Raw texts to token ids, then the network. The vocabulary is learned inside the pipeline,
    so only the rows being fitted shape it."""
    from sklearn.pipeline import Pipeline

    from nnvsml.models.neural.tokenizer import Tokenizer

    return Pipeline([("tokens", Tokenizer(max_vocab=20_000)), ("model", net)])


@dataclass(frozen=True)
class NetworkBuild:
    """The ``build`` of every registered network. The isolated worker receives its Candidate
    pickled; this object travels with its :class:`Architecture`, so an architecture registered
    outside nnvsml is known in the worker too. ``wrap(ctx, net)``, a module-level function, puts
    the network into the estimator the candidate trains (e.g. :func:`tokenized`)."""

    arch: str
    architecture: Architecture
    space: Space
    arch_params: Mapping[str, Any] = field(default_factory=dict)
    estimator_params: Mapping[str, Any] = field(default_factory=dict)
    wrap: Callable[[BuildContext, Any], Any] | None = None

    def __call__(self, ctx: BuildContext):
        ARCHITECTURES.setdefault(self.arch, self.architecture)
        net = array_net(ctx, self.arch, self.space, copy.deepcopy(dict(self.arch_params)),
                        **copy.deepcopy(dict(self.estimator_params)))
        return net if self.wrap is None else self.wrap(ctx, net)


# ---- input kinds --------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputKind:
    """What an input kind implies for a candidate: the modality it serves, how its data is
    prepared (as ``nnvsml models`` describes it), and the wrap that turns the modality's data
    into the kind's input."""

    modality: str
    preprocessing: str
    wrap: Callable[[BuildContext, Any], Any] | None = None


#: Input kinds of :class:`~nnvsml.models.neural.ArrayNetClassifier`: ``image`` uint8
#: (n, H, W, C); ``tokens`` int (n, L) ids with 0 = padding; ``sequence`` float (n, C, T),
#: NaN-padded at the end; ``spectrogram`` float (n, n_mels, frames).
INPUT_KINDS = {
    "image": InputKind("image", "pixels standardised per channel, per batch"),
    "tokens": InputKind("text", "word tokens (vocabulary of up to 20,000 learned from the "
                        "training rows), learned embeddings", tokenized),
    "sequence": InputKind("sequence", "raw series standardised per channel; padding masked"),
    "spectrogram": InputKind("audio", "log-mel spectrogram (40 bands) standardised per band"),
}


def register_network(
    name: str,
    *,
    module: str,
    cls: str,
    kind: str,
    description: str,
    dropout: float | None = None,
    arch: str | None = None,
    arch_params: Mapping[str, Any] | None = None,
    augment: Mapping[str, Any] | None = None,
    wrap: Callable[[BuildContext, Any], Any] | None = None,
    preprocessing: str | None = None,
    modalities: frozenset[str] | None = None,
    explanations: tuple[str, ...] = ("gradients",),
) -> Candidate:
    """Declare a network: its architecture, its search space and its candidate, in one call.

    ``name`` is the candidate's name and, unless ``arch`` is given, the architecture's (two
    candidates may share an architecture with different ``arch_params``). ``module``/``cls``
    locate the ``nn.Module``, imported only when a network is built. ``kind`` is a key of
    :data:`INPUT_KINDS`; it sets the default ``modalities``, ``preprocessing`` and ``wrap``.
    ``dropout`` is the module's own default dropout, tuned with the learning rate and weight
    decay (None: the module has none). ``arch_params`` go to the module's constructor,
    ``augment`` (image kinds) to :class:`~nnvsml.models.neural.augment.ImageAugment`.
    """
    if kind not in INPUT_KINDS:
        raise ValueError(f"kind must be one of {sorted(INPUT_KINDS)}, got {kind!r}")
    arch = arch or name
    architecture = Architecture(module, cls, kind)
    if ARCHITECTURES.get(arch, architecture) != architecture:
        raise ValueError(f"architecture {arch!r} is already registered as {ARCHITECTURES[arch]}")
    defaults = INPUT_KINDS[kind]
    space = spaces.network(dropout=dropout)
    build = NetworkBuild(arch, architecture, space, dict(arch_params or {}),
                         {} if augment is None else {"augment": dict(augment)},
                         wrap or defaults.wrap)
    candidate = register(Candidate(
        name, "neural", CLASSIFICATION, build, description,
        modalities=modalities or frozenset({defaults.modality}),
        preprocessing=preprocessing or defaults.preprocessing,
        time_aware=True, explanations=tuple(explanations), space=space))
    ARCHITECTURES[arch] = architecture
    return candidate
