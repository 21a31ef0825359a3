"""Neural-network candidates for images, text, sequences and audio.

The architectures are the modules of :mod:`nnvsml.models.neural`, one per file; here each gets
its candidate spec. Every one trains with :class:`~nnvsml.models.neural.ArrayNetClassifier`,
so all share one training protocol and one time rule.
"""

from __future__ import annotations

import math

from nnvsml.models import spaces
from nnvsml.models.registry import BuildContext, Candidate, register

CLASSIFICATION = frozenset({"binary", "multiclass"})
IMAGE, TEXT = frozenset({"image"}), frozenset({"text"})
SEQUENCE, AUDIO = frozenset({"sequence"}), frozenset({"audio"})


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


#: Each architecture's search space, with its module's own dropout as the default.
SPACES = {
    "cnn": spaces.network(dropout=0.25),
    "resnet": spaces.network(dropout=0.0),
    "text_cnn": spaces.network(dropout=0.5),
    "text_rnn": spaces.network(dropout=0.3),
    "text_transformer": spaces.network(dropout=0.1),
    "seq_rnn": spaces.network(dropout=0.1),
    "fcn": spaces.network(),
    "seq_transformer": spaces.network(dropout=0.1),
    "audio_cnn": spaces.network(dropout=0.3),
}


def array_net(ctx: BuildContext, arch: str, arch_params: dict | None = None, **hyperparameters):
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
    hp = ctx.hyper(SPACES[arch])
    arch_params = dict(arch_params or {})
    if "dropout" in hp:
        arch_params["dropout"] = hp.pop("dropout")
    return ArrayNetClassifier(arch=arch, max_time=ctx.max_time, random_state=ctx.seed,
                              valid_fraction=VALID_FRACTION, arch_params=arch_params or None,
                              **{**defaults, **hyperparameters, **hp})


# ---- images ------------------------------------------------------------------------------------
#: Random shifts of up to 2 pixels and rotations of up to 10 degrees: they keep a digit, a letter
#: or an object what it is. Horizontal flips do not (a flipped "2" is no "2"), so they are off.
AUGMENT = {"max_shift": 2, "max_rotation": 10.0, "hflip": False}


def build_cnn(ctx: BuildContext):
    return array_net(ctx, "cnn", augment=dict(AUGMENT))


def build_resnet(ctx: BuildContext):
    return array_net(ctx, "resnet", augment=dict(AUGMENT))


register(Candidate(
    "cnn", "neural", CLASSIFICATION, build_cnn,
    "small CNN: three conv-batch norm-ReLU-max pool blocks (16, 32, 64 channels), dropout, "
    "AdamW, early stopping, random shifts and rotations while training",
    modalities=IMAGE, preprocessing="pixels standardised per channel, per batch",
    time_aware=True, explanations=("gradients",),
    space=SPACES["cnn"]))
register(Candidate(
    "resnet", "neural", CLASSIFICATION, build_resnet,
    "small ResNet (He et al. 2016): basic residual blocks in three stages (16, 32, 64 channels), "
    "global average pooling, random shifts and rotations while training",
    modalities=IMAGE, preprocessing="pixels standardised per channel, per batch",
    time_aware=True, explanations=("gradients",),
    space=SPACES["resnet"]))


# ---- text --------------------------------------------------------------------------------------
def _text_net(ctx: BuildContext, arch: str, **arch_params):
    from sklearn.pipeline import Pipeline

    from nnvsml.models.neural.tokenizer import Tokenizer

    # The vocabulary is learned inside the pipeline, so only the rows being fitted shape it.
    return Pipeline([("tokens", Tokenizer(max_vocab=20_000)),
                     ("model", array_net(ctx, arch, arch_params=arch_params))])


def build_text_cnn(ctx: BuildContext):
    return _text_net(ctx, "text_cnn")


def build_text_bilstm(ctx: BuildContext):
    return _text_net(ctx, "text_rnn", cell="lstm", bidirectional=True)


def build_text_transformer(ctx: BuildContext):
    return _text_net(ctx, "text_transformer")


TOKENS = "word tokens (vocabulary of up to 20,000 learned from the training rows), learned embeddings"

register(Candidate(
    "text_cnn", "neural", CLASSIFICATION, build_text_cnn,
    "CNN for sentences (Kim 2014): embeddings, parallel convolutions of widths 3/4/5, "
    "max-over-time pooling, dropout", modalities=TEXT, preprocessing=TOKENS, time_aware=True,
    explanations=("gradients",),
    space=SPACES["text_cnn"]))
register(Candidate(
    "text_bilstm", "neural", CLASSIFICATION, build_text_bilstm,
    "bidirectional LSTM over embeddings; the last states of both directions classify",
    modalities=TEXT, preprocessing=TOKENS, time_aware=True, explanations=("gradients",),
    space=SPACES["text_rnn"]))
register(Candidate(
    "text_transformer", "neural", CLASSIFICATION, build_text_transformer,
    "transformer encoder trained from scratch: 2 layers of 4-head self-attention, sinusoidal "
    "positions, mean pooling", modalities=TEXT, preprocessing=TOKENS, time_aware=True,
    explanations=("attention", "gradients"),
    space=SPACES["text_transformer"]))


# ---- sequences ---------------------------------------------------------------------------------
def build_lstm(ctx: BuildContext):
    return array_net(ctx, "seq_rnn", arch_params={"cell": "lstm"})


def build_fcn(ctx: BuildContext):
    return array_net(ctx, "fcn")


def build_seq_transformer(ctx: BuildContext):
    return array_net(ctx, "seq_transformer")


STEPS = "raw series standardised per channel; padding masked"

register(Candidate(
    "lstm", "neural", CLASSIFICATION, build_lstm,
    "2-layer LSTM over the time steps (packed by length); the last state classifies",
    modalities=SEQUENCE, preprocessing=STEPS, time_aware=True, explanations=("gradients",),
    space=SPACES["seq_rnn"]))
register(Candidate(
    "fcn", "neural", CLASSIFICATION, build_fcn,
    "fully convolutional network (Wang et al. 2017): three conv-batch norm-ReLU blocks, global "
    "average pooling", modalities=SEQUENCE, preprocessing=STEPS, time_aware=True,
    explanations=("gradients",),
    space=SPACES["fcn"]))
register(Candidate(
    "seq_transformer", "neural", CLASSIFICATION, build_seq_transformer,
    "transformer encoder over the time steps: 2 layers of 4-head self-attention, sinusoidal "
    "positions, mean pooling", modalities=SEQUENCE, preprocessing=STEPS, time_aware=True,
    explanations=("attention", "gradients"),
    space=SPACES["seq_transformer"]))


# ---- audio -------------------------------------------------------------------------------------
def build_audio_cnn(ctx: BuildContext):
    return array_net(ctx, "audio_cnn")


register(Candidate(
    "audio_cnn", "neural", CLASSIFICATION, build_audio_cnn,
    "CNN on the log-mel spectrogram: conv-batch norm-ReLU-pool blocks, pooling over frequency "
    "and time, SpecAugment-style masking while training",
    modalities=AUDIO, preprocessing="log-mel spectrogram (40 bands) standardised per band",
    time_aware=True, explanations=("gradients",),
    space=SPACES["audio_cnn"]))
