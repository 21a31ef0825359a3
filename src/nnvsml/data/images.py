"""Image datasets: class folders of PNG/JPEG/BMP/GIF files, MNIST-style IDX files, arrays.

Whatever the source, images end up as one uint8 array ``(n, height, width, channels)`` with 1
(grayscale) or 3 (RGB) channels, so every image model sees one layout. Files that disagree are
repaired in ways that keep their content and are announced: differing sizes are resized to the
most common size, grayscale joins colour as RGB, transparency is flattened onto white.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from nnvsml.data.dataset import Dataset
from nnvsml.data.detect import (
    IDX_FILE,
    LabelledFiles,
    labelled_dataset,
    labelled_files,
    read_bytes,
    visible_files,
)
from nnvsml.errors import InputError

#: PIL modes that hold one gray channel (alpha aside); every other mode is colour.
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
_READ_ERRORS = (
    OSError,
    UnidentifiedImageError,
    ValueError,
    SyntaxError,
    Image.DecompressionBombError,
)
IDX_UBYTE = 0x08  # the only IDX element type images and labels use


def image_info(X: np.ndarray) -> dict:
    """The ``info`` of an image Dataset."""
    return {"height": int(X.shape[1]), "width": int(X.shape[2]), "channels": int(X.shape[3])}


# --- class folders ---------------------------------------------------------------------------


def load_image_folder(
    folder: str | os.PathLike,
    task: str | None = None,
    name: str | None = None,
    notices: list[str] | None = None,
) -> Dataset:
    """An image Dataset from ``folder/<class>/*.png|jpg|jpeg|bmp|gif`` (optionally under train/ and test/)."""
    folder = Path(folder)
    notices = notices if notices is not None else []
    files: LabelledFiles = labelled_files(folder, "image", notices)
    X = read_images(files.paths, notices)
    return labelled_dataset(
        X,
        files.labels,
        modality="image",
        name=name or folder.resolve().name,
        source=str(folder),
        task=task,
        notices=notices,
        info=image_info(X),
        split=files.split,
    )


def read_images(paths: list[Path], notices: list[str]) -> np.ndarray:
    """Decode ``paths`` into one uint8 array ``(n, height, width, channels)``.

    A first pass reads only headers (size, colour) to pick the common size and the channel
    count; the second decodes straight into the preallocated array, so memory holds the result
    and one image at a time.
    """
    headers = [_header(p) for p in paths]
    sizes = Counter(size for size, _ in headers)
    (width, height), _ = sizes.most_common(1)[0]
    colour = any(is_colour for _, is_colour in headers)
    X = np.empty((len(paths), height, width, 3 if colour else 1), dtype=np.uint8)
    flattened = 0
    for i, path in enumerate(paths):
        pixels, had_alpha = _pixels(path, (width, height), colour)
        X[i] = pixels.reshape(X.shape[1:])
        flattened += had_alpha
    resized = sum(count for size, count in sizes.items() if size != (width, height))
    if resized:
        notices.append(
            f"resized {resized} of {len(paths)} images to {width}x{height} pixels (width x height), "
            "the most common size (bilinear)"
        )
    grays = sum(not is_colour for _, is_colour in headers)
    if colour and grays:
        notices.append(f"converted {grays} grayscale image(s) to RGB, as the others are in colour")
    if flattened:
        notices.append(f"flattened {flattened} image(s) with transparency onto a white background")
    return X


def read_images_like(
    paths: list[Path], shape: tuple[int, int, int], notices: list[str]
) -> np.ndarray:
    """New images as a model trained on ``(height, width, channels)`` images takes them.

    Each is read as :func:`read_images` read the training folder: an image of another size is
    resized (bilinear) as training resized those off its common size, a grayscale image joins
    a colour model as RGB, transparency is flattened onto white. A grayscale model cannot take a
    colour image (training would have made the model a colour one): an :class:`InputError`
    naming the file, unless its three channels are equal, which is grayscale stored as RGB.
    """
    height, width, channels = shape
    X = np.empty((len(paths), height, width, channels), dtype=np.uint8)
    resized = flattened = 0
    for i, path in enumerate(paths):
        size, is_colour = _header(path)
        pixels, had_alpha = _pixels(path, (width, height), is_colour or channels == 3)
        if channels == 1 and pixels.ndim == 3:
            if not (pixels == pixels[..., :1]).all():
                raise InputError(f"image {path} is in colour, but the model was trained on "
                                 "grayscale images; convert it to grayscale or remove it")
            pixels = pixels[..., 0]
        X[i] = pixels.reshape(X.shape[1:])
        resized += size != (width, height)
        flattened += had_alpha
    if resized:
        notices.append(f"resized {resized} of {len(paths)} images to {width}x{height} pixels "
                       "(width x height), the model's size (bilinear, as training resizes)")
    if flattened:
        notices.append(f"flattened {flattened} image(s) with transparency onto a white background")
    return X


def _header(path: Path) -> tuple[tuple[int, int], bool]:
    """``((width, height), is colour)`` from the file header, without decoding the pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL warns on odd but readable metadata
            with Image.open(path) as img:
                return img.size, _is_colour(img)
    except _READ_ERRORS as e:
        raise _unreadable(path, e) from None


def _is_colour(img: Image.Image) -> bool:
    if img.mode in ("P", "PA"):
        # A palette of grays (common for 8-bit scans saved as GIF/PNG) is grayscale.
        palette = np.asarray(img.getpalette() or [], dtype=np.int16).reshape(-1, 3)
        return bool(np.any(palette != palette[:, :1]))
    return img.mode not in _GRAY_MODES


def _pixels(path: Path, size: tuple[int, int], colour: bool) -> tuple[np.ndarray, bool]:
    """The image at ``path`` as uint8 ``(height, width[, 3])`` pixels, and whether it had transparency."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                img.seek(0)  # GIF and multi-page files: the first frame
                img.load()
                img, had_alpha = _plain_mode(img, colour)
                if img.size != size:
                    img = img.resize(size, Image.Resampling.BILINEAR)
                return np.asarray(img, dtype=np.uint8), had_alpha
    except _READ_ERRORS as e:
        raise _unreadable(path, e) from None


def _plain_mode(img: Image.Image, colour: bool) -> tuple[Image.Image, bool]:
    """``img`` in mode RGB (``colour``) or L, and whether visible transparency was flattened."""
    if img.mode.startswith("I") or img.mode == "F":
        img = _eight_bit(img)
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")  # a palette may carry transparency
    had_alpha = False
    if "A" in img.mode or "a" in img.mode:
        rgba = img.convert("RGBA")
        had_alpha = rgba.getchannel("A").getextrema()[0] < 255
        # Fully transparent pixels hold arbitrary colours: composite instead of dropping alpha.
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("RGB" if colour else "L"), had_alpha


def _eight_bit(img: Image.Image) -> Image.Image:
    """16-bit and float grayscale scaled to 0..255 (PIL's own conversion would clip at 255)."""
    values = np.asarray(img, dtype=np.float64)
    top = values.max(initial=0.0)
    if img.mode == "F" and top <= 1.0:
        values = values * 255.0
    elif top > 255:
        values = values * (255.0 / 65535.0)
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L")


def _unreadable(path: Path, error: Exception) -> InputError:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return InputError(f"cannot read image {path} ({reason}); fix or remove the file")


# --- IDX (MNIST layout) ------------------------------------------------------------------------


def load_idx_folder(
    folder: str | os.PathLike,
    task: str | None = None,
    name: str | None = None,
    notices: list[str] | None = None,
) -> Dataset:
    """An image Dataset from MNIST-style IDX files, keeping their train/test split.

    Looks for ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` and the ``t10k-`` (or
    ``test``) pair, gzipped or not, also spelled ``*-images.idx3-ubyte``. Train rows come first.
    """
    folder = Path(folder)
    notices = notices if notices is not None else []
    files = idx_files(folder)
    images, labels = [], []
    for part in ("train", "test"):
        if (part, 3) not in files:
            continue
        x = read_idx(files[part, 3], 3)
        y = read_idx(files[part, 1], 1)
        if len(x) != len(y):
            raise InputError(
                f"{files[part, 3].name} holds {len(x)} images but {files[part, 1].name} holds "
                f"{len(y)} labels in {folder}; the counts must match"
            )
        images.append(x)
        labels.append(y)
    X = np.concatenate(images)[..., np.newaxis]  # (n, rows, cols, 1): grayscale
    split = None
    if len(images) == 2:
        n_train = len(images[0])
        split = (np.arange(n_train), np.arange(n_train, len(X)))
    return labelled_dataset(
        X,
        np.concatenate(labels),
        modality="image",
        name=name or folder.resolve().name,
        source=str(folder),
        task=task,
        notices=notices,
        info=image_info(X),
        split=split,
    )


def idx_files(folder: Path) -> dict[tuple[str, int], Path]:
    """``{(part, ndim): path}`` for the IDX files in ``folder``; part is train or test.

    When a file exists both gzipped and not (after ``gunzip -k``), the uncompressed one is read.
    """
    found: dict[tuple[str, int], Path] = {}
    for path in visible_files(folder):
        match = IDX_FILE.search(path.name)
        if not match:
            continue
        lower = path.name.lower()
        part = (
            "train"
            if "train" in lower
            else "test"
            if ("t10k" in lower or "test" in lower)
            else None
        )
        if part is None:
            raise InputError(
                f"cannot tell whether {path} holds training or test data; name it train-... or t10k-..."
            )
        key = (part, int(match["ndim"]))
        if key not in found or found[key].suffix.lower() == ".gz":
            found[key] = path
    for part in ("train", "test"):
        have = [ndim for ndim in (3, 1) if (part, ndim) in found]
        if len(have) == 1:
            given = found[part, have[0]].name
            lacking = "labels (idx1)" if have[0] == 3 else "images (idx3)"
            raise InputError(f"{folder} has {given} but no {part} {lacking} file; add it")
    if ("train", 3) not in found:
        raise InputError(
            f"{folder} has IDX test files but no training files (train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte); add them"
        )
    return found


def idx_images_like(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """The images of one IDX file for a model of ``(height, width, channels)`` images: an IDX
    training set is never resized, so its images must have the model's size."""
    X = read_idx(path, 3)[..., np.newaxis]
    if X.shape[1:] != tuple(shape):
        raise InputError(f"{path} holds {X.shape[1]}x{X.shape[2]} grayscale images; the model "
                         f"takes {shape[0]}x{shape[1]} images with {shape[2]} channel(s)")
    return X


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The uint8 array of an IDX file (``ndim`` 3: images, 1: labels), header checked.

    The header is two zero bytes, the element type (0x08: unsigned byte), the number of
    dimensions, then one big-endian uint32 per dimension; the data follows. No per-image loop:
    the whole body is one ``np.frombuffer``.
    """
    data = read_bytes(path)
    expected_magic = (IDX_UBYTE << 8) | ndim
    magic = int.from_bytes(data[:4], "big") if len(data) >= 4 else -1
    if magic != expected_magic:
        what = "images" if ndim == 3 else "labels"
        raise InputError(
            f"{path} is not an IDX {what} file (magic number 0x{max(magic, 0):08x}, expected "
            f"0x{expected_magic:08x}); check or re-download the file"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(f"{path} is truncated (incomplete header); re-download the file")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise InputError(
            f"{path} holds {len(data) - header} data bytes but its header announces {dims} = "
            f"{expected}; the file is truncated or corrupt: re-download it"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


# --- arrays ------------------------------------------------------------------------------------


def image_array(X, notices: list[str]) -> np.ndarray:
    """Images in any common array layout as uint8 ``(n, height, width, channels)``.

    ``(n, H, W)`` gains a channel; ``(n, C, H, W)`` with C in {1, 3} (and a last dimension that
    is not) is moved to channels-last; a 4th (alpha) channel is dropped. Floats in [0, 1] are
    scaled to 0..255, other numbers in 0..255 rounded; values outside are an error.
    """
    X = np.asarray(X)
    if X.ndim == 3:
        X = X[..., np.newaxis]
    elif X.ndim == 4:
        if X.shape[-1] not in (1, 3) and X.shape[1] in (1, 3):
            X = X.transpose(0, 2, 3, 1)
            notices.append(
                "images were channels-first (n, channels, height, width): moved channels last"
            )
        elif X.shape[-1] == 4:
            X = X[..., :3]
            notices.append("dropped the 4th (alpha) channel of the images")
        elif X.shape[-1] not in (1, 3):
            raise InputError(
                f"images of shape {X.shape} have {X.shape[-1]} channels; expected 1 (grayscale) or 3 (RGB)"
            )
    else:
        raise InputError(
            f"image arrays need 3 or 4 dimensions (n, height, width[, channels]), got shape {X.shape}"
        )
    return np.ascontiguousarray(_to_uint8(X, notices))


def _to_uint8(X: np.ndarray, notices: list[str]) -> np.ndarray:
    if X.dtype == np.uint8:
        return X
    if X.dtype == np.bool_:
        notices.append("converted true/false pixels to 0/255")
        return X.astype(np.uint8) * 255
    if X.dtype.kind not in "iuf":
        raise InputError(f"image pixels must be numbers, got dtype {X.dtype}")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise InputError("image pixels include NaN or infinite values; fix or remove those images")
    low, high = float(X.min()), float(X.max())
    if X.dtype.kind == "f" and low >= 0 and high <= 1:
        notices.append(f"converted {X.dtype} pixel values in [0, 1] to 0..255 (uint8)")
        return np.rint(X.astype(np.float32) * 255).astype(np.uint8)
    if low >= 0 and high <= 255:
        notices.append(f"converted {X.dtype} pixel values in [0, 255] to uint8")
        return np.rint(X).astype(np.uint8)
    raise InputError(
        f"image pixel values range from {low:g} to {high:g}; expected [0, 1] or [0, 255]: rescale them"
    )
