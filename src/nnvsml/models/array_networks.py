"""Neural-network candidates for images, text, sequences and audio.

The architectures are the modules of :mod:`nnvsml.models.neural`, one per file; here each is
declared once with :func:`~nnvsml.models.network_registry.register_network`, which records its
module, its search space (with the module's own dropout as the default) and its candidate.
Every one trains with :class:`~nnvsml.models.neural.ArrayNetClassifier`, so all share one
training protocol and one time rule.
"""

from __future__ import annotations

from nnvsml.models.network_registry import register_network

NEURAL = "nnvsml.models.neural"

# ---- images ------------------------------------------------------------------------------------
#: Random shifts of up to 2 pixels and rotations of up to 10 degrees: they keep a digit, a letter
#: or an object what it is. Horizontal flips do not (a flipped "2" is no "2"), so they are off.
AUGMENT = {"max_shift": 2, "max_rotation": 10.0, "hflip": False}

register_network(
    "cnn", module=f"{NEURAL}.cnn", cls="SmallCNN", kind="image", dropout=0.25, augment=AUGMENT,
    description="small CNN: three conv-batch norm-ReLU-max pool blocks (16, 32, 64 channels), "
    "dropout, AdamW, early stopping, random shifts and rotations while training")
register_network(
    "resnet", module=f"{NEURAL}.resnet", cls="SmallResNet", kind="image", dropout=0.0,
    augment=AUGMENT,
    description="small ResNet (He et al. 2016): basic residual blocks in three stages (16, 32, "
    "64 channels), global average pooling, random shifts and rotations while training")

# ---- text: word tokens from the texts, learned inside the candidate's pipeline ------------------
register_network(
    "text_cnn", module=f"{NEURAL}.text_cnn", cls="TextCNN", kind="tokens", dropout=0.5,
    description="CNN for sentences (Kim 2014): embeddings, parallel convolutions of widths "
    "3/4/5, max-over-time pooling, dropout")
register_network(
    "text_bilstm", arch="text_rnn", module=f"{NEURAL}.text_rnn", cls="TextRNN", kind="tokens",
    dropout=0.3, arch_params={"cell": "lstm", "bidirectional": True},
    description="bidirectional LSTM over embeddings; the last states of both directions classify")
register_network(
    "text_transformer", module=f"{NEURAL}.text_transformer", cls="TextTransformer",
    kind="tokens", dropout=0.1, explanations=("attention", "gradients"),
    description="transformer encoder trained from scratch: 2 layers of 4-head self-attention, "
    "sinusoidal positions, mean pooling")

# ---- sequences ---------------------------------------------------------------------------------
register_network(
    "lstm", arch="seq_rnn", module=f"{NEURAL}.seq_rnn", cls="SequenceRNN", kind="sequence",
    dropout=0.1, arch_params={"cell": "lstm"},
    description="2-layer LSTM over the time steps (packed by length); the last state classifies")
register_network(
    "fcn", module=f"{NEURAL}.fcn", cls="FCN", kind="sequence",
    description="fully convolutional network (Wang et al. 2017): three conv-batch norm-ReLU "
    "blocks, global average pooling")
register_network(
    "seq_transformer", module=f"{NEURAL}.seq_transformer", cls="SequenceTransformer",
    kind="sequence", dropout=0.1, explanations=("attention", "gradients"),
    description="transformer encoder over the time steps: 2 layers of 4-head self-attention, "
    "sinusoidal positions, mean pooling")

# ---- audio -------------------------------------------------------------------------------------
register_network(
    "audio_cnn", module=f"{NEURAL}.audio_cnn", cls="AudioCNN", kind="spectrogram", dropout=0.3,
    description="CNN on the log-mel spectrogram: conv-batch norm-ReLU-pool blocks, pooling over "
    "frequency and time, SpecAugment-style masking while training")
