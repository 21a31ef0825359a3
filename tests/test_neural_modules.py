"""Image, text, sequence and audio networks: shapes, padding, augmentation, tokenizer, learning."""

from __future__ import annotations

import doctest
import importlib
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits

from nnvsml.errors import InputError
from nnvsml.models.neural.audio_cnn import AudioCNN, SpecAugment
from nnvsml.models.neural.augment import ImageAugment
from nnvsml.models.neural.cnn import SmallCNN
from nnvsml.models.neural.fcn import FCN
from nnvsml.models.neural.masking import masked_max, masked_mean, split_padding
from nnvsml.models.neural.resnet import SmallResNet
from nnvsml.models.neural.seq_rnn import SequenceRNN
from nnvsml.models.neural.seq_transformer import SequenceTransformer
from nnvsml.models.neural.text_cnn import TextCNN
from nnvsml.models.neural.text_rnn import TextRNN
from nnvsml.models.neural.text_transformer import TextTransformer
from nnvsml.models.neural.tokenizer import Tokenizer

MODULES = [
    "masking", "positional", "cnn", "resnet", "augment", "text_cnn", "text_rnn",
    "text_transformer", "seq_rnn", "fcn", "seq_transformer", "audio_cnn", "tokenizer",
]  # fmt: skip
IMAGE_NETS = [SmallCNN, SmallResNet]
TEXT_NETS = [
    TextCNN,
    TextRNN,
    lambda *a, **k: TextRNN(*a, cell="gru", bidirectional=False, num_layers=2, **k),
    TextTransformer,
]
SEQUENCE_NETS = [
    SequenceRNN,
    lambda *a, **k: SequenceRNN(*a, cell="gru", bidirectional=True, num_layers=1, **k),
    FCN,
    SequenceTransformer,
    # Long series are read in patches of several steps; padding must still not matter.
    lambda *a, **k: SequenceRNN(*a, max_steps=5, **k),
    lambda *a, **k: SequenceTransformer(*a, max_steps=5, **k),
]
VOCAB = 50


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"nnvsml.models.neural.{name}")
    assert module.__doc__, f"{name} needs a module docstring"
    result = doctest.testmod(module)
    assert result.failed == 0


# --- shapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("net", IMAGE_NETS)
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 9, 21)])
def test_image_nets_accept_any_size(net, shape):
    model = net(shape, n_out=7)
    x = torch.randn(3, *shape)
    assert model.train()(x).shape == (3, 7)
    with torch.no_grad():
        assert model.eval()(x).shape == (3, 7)


@pytest.mark.parametrize("net", TEXT_NETS)
@pytest.mark.parametrize("length", [1, 3, 20])
def test_text_nets_shapes_including_texts_shorter_than_kernels(net, length):
    model = net(VOCAB, (length,), n_out=4)
    ids = torch.randint(1, VOCAB, (5, length))
    assert model.train()(ids).shape == (5, 4)


@pytest.mark.parametrize("net", SEQUENCE_NETS)
@pytest.mark.parametrize("shape", [(1, 10), (3, 50)])
def test_sequence_nets_shapes(net, shape):
    model = net(shape, n_out=3)
    assert model.train()(torch.randn(4, *shape)).shape == (4, 3)


@pytest.mark.parametrize("shape", [(40, 101), (8, 8), (64, 16)])
def test_audio_cnn_shapes(shape):
    model = AudioCNN(shape, n_out=5)
    x = torch.randn(3, *shape)
    assert model.train()(x).shape == (3, 5)
    with torch.no_grad():
        assert model.eval()(x).shape == (3, 5)


# --- padding: invariance and empty rows ------------------------------------------------------


def _token_batch(length: int) -> torch.Tensor:
    """Texts of lengths length, 7, 2, 1 and 0 (empty), 0-padded to ``length``."""
    ids = torch.zeros(5, length, dtype=torch.long)
    for row, n in enumerate([length, 7, 2, 1, 0]):
        ids[row, :n] = torch.randint(1, VOCAB, (n,))
    return ids


@pytest.mark.parametrize("net", TEXT_NETS)
def test_text_output_does_not_depend_on_padding(net):
    model = net(VOCAB, (12,), n_out=3).eval()
    ids = _token_batch(12)
    longer = torch.cat([ids, torch.zeros_like(ids)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(ids), model(longer), atol=1e-5, rtol=0)


@pytest.mark.parametrize("net", TEXT_NETS)
def test_empty_texts_give_finite_outputs_and_gradients(net):
    model = net(VOCAB, (6,), n_out=3).train()
    out = model(torch.zeros(4, 6, dtype=torch.long))
    out.sum().backward()
    assert torch.isfinite(out).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    with torch.no_grad():
        assert torch.isfinite(model.eval()(torch.zeros(2, 6, dtype=torch.long))).all()


def _series_batch(channels: int, length: int) -> torch.Tensor:
    """Series of lengths length, length-3, 5, 1 and 0, NaN-padded to ``length``."""
    x = torch.randn(5, channels, length)
    for row, n in enumerate([length, length - 3, 5, 1, 0]):
        x[row, :, n:] = float("nan")
    return x


@pytest.mark.parametrize("net", SEQUENCE_NETS)
def test_sequence_output_does_not_depend_on_padding(net):
    model = net((2, 16), n_out=3).eval()
    x = _series_batch(2, 16)
    longer = torch.cat([x, torch.full_like(x, float("nan"))], dim=2)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(longer), atol=1e-5, rtol=0)


@pytest.mark.parametrize("net", SEQUENCE_NETS)
def test_empty_series_give_finite_outputs_and_gradients(net):
    model = net((2, 8), n_out=3).train()
    x = _series_batch(2, 8)
    x[1:] = float("nan")
    out = model(x)
    out.sum().backward()
    assert torch.isfinite(out).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_split_padding_keeps_interior_gaps_and_pooling_ignores_padding():
    nan = float("nan")
    x = torch.tensor([[[1.0, nan, 3.0, nan]], [[nan, nan, nan, nan]]])
    values, mask, lengths = split_padding(x)
    assert lengths.tolist() == [3, 0]  # the gap at step 1 is a missing reading, not the end
    assert values[0, 0].tolist() == [1.0, 0.0, 3.0, 0.0]
    h = torch.tensor([[[1.0, 5.0, 3.0, 100.0]], [[7.0, 7.0, 7.0, 7.0]]])
    assert masked_mean(h, mask.unsqueeze(1), dim=2).tolist() == [[3.0], [0.0]]
    assert masked_max(h, mask.unsqueeze(1), dim=2).tolist() == [[5.0], [0.0]]


# --- augmentation ---------------------------------------------------------------------------


def test_image_augment_is_identity_in_eval_and_random_in_train():
    augment = ImageAugment()
    x = torch.randn(8, 1, 28, 28)
    assert torch.equal(augment.eval()(x), x)
    out = augment.train()(x)
    assert out.shape == x.shape and not torch.allclose(out, x)


def test_image_augment_shifts_are_whole_pixels_and_flips_are_exact_mirrors():
    x = torch.randn(6, 2, 10, 12)
    shifted = ImageAugment(max_shift=2, max_rotation=0.0).train()(x)
    for image, out in zip(x, shifted):
        candidates = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                moved = torch.zeros_like(image)
                # the output pixel (i, j) samples the input pixel (i + dy, j + dx)
                src = image[:, max(dy, 0) : 10 + min(dy, 0), max(dx, 0) : 12 + min(dx, 0)]
                moved[:, max(-dy, 0) : 10 + min(-dy, 0), max(-dx, 0) : 12 + min(-dx, 0)] = src
                candidates.append(moved)
        assert any(torch.allclose(out, c, atol=1e-5) for c in candidates)
    flipped = ImageAugment(max_shift=0, max_rotation=0.0, hflip=True).train()(x)
    for image, out in zip(x, flipped):
        assert torch.allclose(out, image, atol=1e-5) or torch.allclose(
            out, image.flip(-1), atol=1e-5
        )


def test_spec_augment_masks_one_band_each_way_in_train_only():
    augment = SpecAugment(freq_mask=4, time_mask=5)
    x = torch.randn(16, 20, 30) + 10  # no zeros of its own
    assert torch.equal(augment.eval()(x), x)
    out = augment.train()(x)
    zero = out == 0
    assert zero.any()
    for z in zero:
        rows = z.all(dim=1).nonzero().flatten()  # fully masked mel bins
        cols = z.all(dim=0).nonzero().flatten()  # fully masked frames
        assert len(rows) <= 4 and len(cols) <= 5
        assert torch.equal(z, z.all(dim=1, keepdim=True) | z.all(dim=0, keepdim=True))
        for band in (rows, cols):  # contiguous
            assert len(band) == 0 or band[-1] - band[0] + 1 == len(band)
    x_model = torch.randn(4, 40, 50)
    model = AudioCNN((40, 50), n_out=3).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x_model), model(x_model))


# --- tokenizer ------------------------------------------------------------------------------


def test_tokenizer_learns_only_from_fit_documents():
    train = ["The cat sat on the mat.", "A dog sat", "the DOG barked!"]
    tok = Tokenizer(max_length=8).fit(train)
    assert "zebra" not in tok.vocabulary_
    assert tok.vocab_size_ == len(tok.vocabulary_) + 2
    ids = tok.transform(["zebra the cat"])
    assert ids.dtype == np.int64 and ids.shape == (1, 8)
    assert ids[0, 0] == 1  # unknown
    assert ids[0, 1] == tok.vocabulary_["the"] and ids[0, 2] == tok.vocabulary_["cat"]
    # Most frequent first, ties alphabetical, starting at 2: "the" (3x), then "dog", "sat" (2x).
    assert [tok.vocabulary_[w] for w in ("the", "dog", "sat")] == [2, 3, 4]


def test_tokenizer_pads_truncates_and_splits_punctuation():
    tok = Tokenizer(max_length=4).fit(["a b c d e f", "x, y!"])
    out = tok.transform(["a b c d e f", "x, y!", "", None])
    assert out.shape == (4, 4)
    assert (out[0] > 1).all()  # truncated to the first 4 tokens
    assert out[1].tolist() == [tok.vocabulary_[t] for t in ["x", ",", "y", "!"]]
    assert out[2].tolist() == [0, 0, 0, 0] and out[3].tolist() == [0, 0, 0, 0]


def test_tokenizer_default_length_is_95th_percentile_clipped():
    short = Tokenizer().fit(["one two"] * 10)
    assert short.max_length_ == 8
    docs = ["w " * n for n in range(1, 101)]
    assert Tokenizer().fit(docs).max_length_ == int(np.ceil(np.percentile(range(1, 101), 95)))
    assert Tokenizer().fit(["w " * 1000] * 3).max_length_ == 256


def test_tokenizer_is_deterministic_picklable_and_cloneable():
    docs = np.array(["b a c", "c b", "a", "d"], dtype=object)
    first = Tokenizer(min_count=1).fit(docs)
    second = Tokenizer(min_count=1).fit(docs[::-1])
    assert first.vocabulary_ == second.vocabulary_
    restored = pickle.loads(pickle.dumps(first))
    assert np.array_equal(restored.transform(docs), first.transform(docs))
    assert clone(first).get_params() == first.get_params()
    assert Tokenizer(min_count=2).fit(docs).vocab_size_ == 2 + 3  # "d" seen once


def test_tokenizer_joblib_round_trip(tmp_path):
    tok = Tokenizer(max_length=5).fit(["hello world"])
    joblib.dump(tok, tmp_path / "tok.joblib")
    assert joblib.load(tmp_path / "tok.joblib").transform(["hello"]).tolist() == [[2, 0, 0, 0, 0]]


def test_tokenizer_rejects_a_table():
    with pytest.raises(InputError, match="1-D"):
        Tokenizer().fit(np.array([["a", "b"], ["c", "d"]], dtype=object))


# --- they learn -----------------------------------------------------------------------------


def _train(model, X, y, epochs, batch_size=64, lr=3e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(X)).split(batch_size):
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model


def test_small_cnn_learns_digits():
    digits = load_digits()
    X = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1)  # [n, 1, 8, 8]
    y = torch.tensor(digits.target)
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    train, test = perm[:1500], perm[1500:]
    mean, std = X[train].mean(), X[train].std()
    X = (X - mean) / std
    model = _train(nn_with_augment(SmallCNN((1, 8, 8), n_out=10)), X[train], y[train], epochs=6)
    with torch.no_grad():
        accuracy = (model(X[test]).argmax(1) == y[test]).float().mean().item()
    assert accuracy > 0.8


def nn_with_augment(model: torch.nn.Module) -> torch.nn.Module:
    """The network behind the augmentation, as the estimator will use it."""
    return torch.nn.Sequential(ImageAugment(max_shift=1, max_rotation=8.0), model)


def _sine_or_square(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: noisy sine; class 1: noisy square wave; random period, phase and length (24..64)."""
    t = torch.arange(64, dtype=torch.float32)
    period = 8 + 16 * torch.rand(n, 1, generator=generator)
    phase = 2 * torch.pi * torch.rand(n, 1, generator=generator)
    wave = torch.sin(2 * torch.pi * t / period + phase)
    y = torch.randint(0, 2, (n,), generator=generator)
    x = torch.where(y[:, None] == 1, torch.sign(wave), wave)
    x = x + 0.2 * torch.randn(n, 64, generator=generator)
    lengths = torch.randint(24, 65, (n, 1), generator=generator)
    x = x.masked_fill(t >= lengths, float("nan"))
    return x.unsqueeze(1), y


def test_fcn_learns_sine_versus_square():
    generator = torch.Generator().manual_seed(0)
    X_train, y_train = _sine_or_square(400, generator)
    X_test, y_test = _sine_or_square(200, generator)
    model = _train(FCN((1, 64), n_out=2, channels=(16, 32, 16)), X_train, y_train, epochs=5)
    with torch.no_grad():
        accuracy = (model(X_test).argmax(1) == y_test).float().mean().item()
    assert accuracy > 0.9
