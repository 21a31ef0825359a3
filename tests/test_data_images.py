"""Image loading: class folders (PNG/JPEG/BMP/GIF), MNIST IDX files, .npz and in-memory arrays."""

from __future__ import annotations

import gzip
import os
import time

import numpy as np
import pytest
from makedata import add_links_and_nested, shared, write_digits_png, write_idx, write_mnist_idx
from PIL import Image

from nnvsml.data import load_dataset
from nnvsml.data.images import read_idx
from nnvsml.errors import InputError


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    return write_digits_png(tmp_path_factory.mktemp("img") / "digits", n_per_class=6)


def _two_classes(root, make, n=6):
    """``root/a`` and ``root/b`` with ``n`` images each from ``make(i) -> PIL image``."""
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(n):
            make(i).save(root / label / f"{i}.png")
    return root


# --- class folders -----------------------------------------------------------------------------


def test_digit_folders(digits_dir):
    ds = load_dataset(digits_dir)
    assert ds.modality == "image" and ds.name == "digits" and ds.source == str(digits_dir)
    assert ds.X.shape == (60, 8, 8, 1) and ds.X.dtype == np.uint8
    assert ds.X.max() == 255 and ds.X.min() == 0
    assert (
        ds.target == "label"
        and ds.task == "multiclass"
        and ds.classes == [str(d) for d in range(10)]
    )
    assert ds.info == {"height": 8, "width": 8, "channels": 1}
    assert ds.split is None and ds.columns == [] and ds.n_features == 64
    # the pixels are the digits' own: first image of class 0
    first = np.asarray(Image.open(min((digits_dir / "0").iterdir())))
    assert np.array_equal(ds.X[0, :, :, 0], first)


def test_train_test_folders_are_a_split(tmp_path):
    root = write_digits_png(tmp_path / "d", n_per_class=8, split=True, classes=range(3))
    ds = load_dataset(root)
    train, test = ds.split
    assert len(train) == 18 and len(test) == 6 and ds.n_rows == 24
    assert list(train) == list(range(18)) and ds.y.iloc[test].value_counts().to_dict() == {
        "0": 2,
        "1": 2,
        "2": 2,
    }
    assert ds.task == "multiclass"


def test_training_testing_names_and_mismatched_classes(tmp_path):
    root = write_digits_png(tmp_path / "d", n_per_class=8, split=True, classes=range(2))
    (root / "train").rename(root / "Training")
    (root / "test").rename(root / "testing")
    assert len(load_dataset(root).split[1]) == 4
    (root / "testing" / "1").rename(root / "testing" / "7")
    with pytest.raises(
        InputError, match=r"different class folders \(only in Training: 1; only in testing: 7\)"
    ):
        load_dataset(root)


def test_sizes_are_unified_with_a_notice(tmp_path):
    root = _two_classes(
        tmp_path / "s", lambda i: Image.new("L", (12, 10) if i else (20, 16), 100 + i)
    )
    ds = load_dataset(root)
    assert ds.X.shape == (12, 10, 12, 1) and ds.info == {"height": 10, "width": 12, "channels": 1}
    assert (
        "resized 2 of 12 images to 12x10 pixels (width x height), the most common size"
        in " ".join(ds.notices)
    )
    assert (ds.X[0] == 100).all()  # a uniform image stays uniform after bilinear resizing


def test_gray_and_colour_mix_becomes_rgb(tmp_path):
    root = _two_classes(
        tmp_path / "c",
        lambda i: Image.new("RGB", (5, 5), (255, 0, 0)) if i == 0 else Image.new("L", (5, 5), 50),
    )
    ds = load_dataset(root)
    assert ds.X.shape == (12, 5, 5, 3)
    assert any("converted 10 grayscale image(s) to RGB" in n for n in ds.notices)
    assert tuple(ds.X[0, 0, 0]) == (255, 0, 0) and tuple(ds.X[1, 0, 0]) == (50, 50, 50)


def test_palette_alpha_bmp_gif_and_jpeg(tmp_path):
    root = tmp_path / "f"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir(parents=True)
    gray_palette = Image.new("L", (6, 6), 80).convert("P")
    gray_palette.save(root / "a" / "p.png")
    Image.new("L", (6, 6), 30).save(root / "a" / "x.bmp")
    Image.new("L", (6, 6), 60).save(root / "a" / "y.gif")
    Image.new("LA", (6, 6), (0, 0)).save(root / "b" / "clear.png")  # fully transparent
    Image.new("L", (6, 6), 200).save(root / "b" / "z.jpg", quality=95)
    for i in range(5):
        Image.new("L", (6, 6), 0).save(root / "b" / f"zz{i}.png")
    ds = load_dataset(root)
    assert ds.X.shape == (10, 6, 6, 1)  # gray palette and gray+alpha stay one channel
    assert any(
        "flattened 1 image(s) with transparency onto a white background" in n for n in ds.notices
    )
    values = dict(zip(("p", "x", "y", "clear", "z"), ds.X[:5, 0, 0, 0]))
    assert values["p"] == 80 and values["x"] == 30 and values["y"] == 60 and values["clear"] == 255
    assert abs(int(values["z"]) - 200) <= 2


def test_other_files_in_class_folders_are_announced(tmp_path):
    root = write_digits_png(tmp_path / "d", n_per_class=5, classes=range(2))
    (root / "0" / "notes.md").write_text("hi")
    (root / ".hidden").mkdir()
    ds = load_dataset(root)
    assert ds.n_rows == 10 and any(
        "ignored 1 file(s) that are not PNG/JPG/JPEG/BMP/GIF" in n for n in ds.notices
    )


# --- errors --------------------------------------------------------------------------------------


def test_folder_without_images(tmp_path):
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    (tmp_path / "empty" / "cats" / "a.csv").write_text("x")
    with pytest.raises(InputError, match="holds nothing loadable .*; supported: .*PNG/JPEG/BMP/GIF"):
        load_dataset(tmp_path / "empty")
    with pytest.raises(InputError, match=r"no image files \(PNG/JPG/JPEG/BMP/GIF\) found in"):
        load_dataset(tmp_path / "empty", modality="image")


def test_corrupt_image_is_named(tmp_path):
    root = write_digits_png(tmp_path / "d", n_per_class=3, classes=range(2))
    bad = root / "1" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(InputError, match=rf"cannot read image {bad} .*fix or remove the file"):
        load_dataset(root)
    good = min((root / "0").iterdir())
    good.write_bytes(good.read_bytes()[:60])  # truncated: the header reads, the pixels do not
    bad.unlink()
    with pytest.raises(InputError, match=rf"cannot read image {good}"):
        load_dataset(root)


def test_single_example_class_and_single_class(tmp_path):
    root = write_digits_png(tmp_path / "d", n_per_class=3, classes=range(2))
    Image.new("L", (8, 8)).save((root / "lonely").mkdir() or root / "lonely" / "only.png")
    with pytest.raises(
        InputError, match=r"class 'lonely' in .* has a single image example \(.*only.png\)"
    ):
        load_dataset(root)
    one = write_digits_png(tmp_path / "one", n_per_class=12, classes=[4])
    with pytest.raises(
        InputError, match=r"has a single class \('4'\); a classifier needs at least two"
    ):
        load_dataset(one)


def test_train_without_test(tmp_path):
    root = write_digits_png(tmp_path / "d", n_per_class=8, split=True, classes=range(2))
    for f in (root / "test").rglob("*.png"):
        f.unlink()
    for d in sorted((root / "test").iterdir()):
        d.rmdir()
    (root / "test").rmdir()
    with pytest.raises(InputError, match="has a train/ folder but no test/ folder"):
        load_dataset(root)


# --- IDX -----------------------------------------------------------------------------------------


def test_small_idx_folder_keeps_the_split(tmp_path):
    root = write_mnist_idx(tmp_path / "mini", 100, 30)
    ds = load_dataset(root)
    assert ds.modality == "image" and ds.name == "mini" and ds.X.shape == (130, 28, 28, 1)
    assert [len(p) for p in ds.split] == [100, 30] and ds.split[1][0] == 100
    assert ds.task == "multiclass" and ds.classes == list(range(10))
    # pointing at one of the files loads the folder
    assert load_dataset(root / "t10k-images-idx3-ubyte.gz").n_rows == 130


def test_full_mnist_is_fast():
    folder = shared("mnist")
    start = time.perf_counter()
    ds = load_dataset(folder)
    elapsed = time.perf_counter() - start
    assert ds.X.shape == (70000, 28, 28, 1) and ds.X.dtype == np.uint8
    assert [len(p) for p in ds.split] == [60000, 10000]
    assert ds.y.iloc[:5].tolist() == [5, 0, 4, 1, 9]  # MNIST's well-known first labels
    assert elapsed < 5, f"loading MNIST took {elapsed:.1f} s"


def test_idx_dotted_names_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 4, 5), dtype=np.uint8)
    labels = np.repeat([0, 1], 10).astype(np.uint8)
    write_idx(tmp_path / "train-images.idx3-ubyte", images)
    write_idx(tmp_path / "train-labels.idx1-ubyte", labels)
    ds = load_dataset(tmp_path)
    assert ds.X.shape == (20, 4, 5, 1) and ds.split is None and ds.task == "binary"
    assert np.array_equal(ds.X[..., 0], images)

    write_idx(tmp_path / "train-labels.idx1-ubyte", labels[:15])
    with pytest.raises(
        InputError, match="holds 20 images but train-labels.idx1-ubyte holds 15 labels"
    ):
        load_dataset(tmp_path)

    (tmp_path / "train-labels.idx1-ubyte").write_bytes(b"\x00\x00\x08\x03" + bytes(20))
    with pytest.raises(
        InputError, match=r"not an IDX labels file \(magic number 0x00000803, expected 0x00000801\)"
    ):
        load_dataset(tmp_path)

    data = (tmp_path / "train-images.idx3-ubyte").read_bytes()
    (tmp_path / "train-images.idx3-ubyte").write_bytes(gzip.compress(data[:-7]))
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_idx(tmp_path / "train-images.idx3-ubyte", 3)

    (tmp_path / "train-labels.idx1-ubyte").unlink()
    with pytest.raises(InputError, match="has train-images.idx3-ubyte but no train labels"):
        load_dataset(tmp_path)


# --- arrays ---------------------------------------------------------------------------------------


def test_npz_images_with_split_and_float_pixels(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "small.npz"
    np.savez(
        path,
        x_train=rng.random((12, 3, 6, 7)),
        y_train=np.arange(12) % 3,
        x_test=rng.random((6, 3, 6, 7)),
        y_test=np.arange(6) % 3,
    )
    ds = load_dataset(path)
    assert ds.modality == "image" and ds.name == "small"
    assert ds.X.shape == (18, 6, 7, 3) and ds.X.dtype == np.uint8  # channels moved last
    assert [len(p) for p in ds.split] == [12, 6]
    text = " ".join(ds.notices)
    assert "channels-first" in text and "in [0, 1] to 0..255" in text


def test_npz_keys_and_shapes(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, images=np.zeros((10, 4, 4)) + 255.0, labels=np.eye(2)[np.arange(10) % 2])
    ds = load_dataset(path, target="whatever")
    assert ds.X.shape == (10, 4, 4, 1) and (ds.X == 255).all() and ds.classes == [0, 1]
    assert any("--target 'whatever' is ignored" in n for n in ds.notices)
    np.savez(path, x=np.full((10, 4, 4), 300.0), y=np.arange(10) % 2)
    with pytest.raises(InputError, match="range from 300 to 300; expected"):
        load_dataset(path)
    np.savez(path, pixels=np.zeros((10, 4, 4)), y=np.arange(10) % 2)
    with pytest.raises(InputError, match="holds the arrays pixels, y; expected x and y"):
        load_dataset(path)


def test_in_memory_uint8_images():
    X = np.random.default_rng(0).integers(0, 256, (20, 5, 5), dtype=np.uint8)
    ds = load_dataset((X, ["cat", "dog"] * 10))
    assert ds.modality == "image" and ds.X.shape == (20, 5, 5, 1) and ds.classes == ["cat", "dog"]
    assert ds.name == "arrays" and ds.target == "label"
    with pytest.raises(InputError, match="regression is supported on tables only"):
        load_dataset((X, np.arange(20.0)), task="regression")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlinks_are_skipped_and_nested_files_counted(tmp_path):
    root = write_digits_png(tmp_path / "d", n_per_class=5, classes=range(2))
    add_links_and_nested(root, tmp_path / "elsewhere")
    ds = load_dataset(root)
    assert ds.n_rows == 10 and ds.classes == ["0", "1"]
    assert any(n.startswith("skipped 3 symbolic link(s)") for n in ds.notices)
    assert any(n.startswith("2 file(s) came from sub-folders nested") for n in ds.notices)
