"""The bodies ``nnvsml serve`` takes for each modality, and the model input they make.

One example goes to ``/v1/predict`` under the key of :func:`~nnvsml.deploy.model.request_spec`
(``row``, ``image``, ``text``, ``series``, ``audio_base64``), several to ``/v1/predict/batch``
under its batch key; a table may also be uploaded as a file. Everything a client sends is
checked here and turned into the layout training gave the model, through the readers of
:mod:`nnvsml.data`; what does not fit is a :class:`FieldError` locating the value at fault.
"""

from __future__ import annotations

import base64
import binascii
import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from nnvsml.data.audio import N_MELS, log_mel_like, read_wav
from nnvsml.data.readers import GZIP_MAGIC, PARQUET_MAGIC, read_table
from nnvsml.data.series import series_like
from nnvsml.deploy.model import request_spec
from nnvsml.errors import InputError

MAX_ROWS = 10_000
#: An uploaded Parquet file may hold at most this many bytes once decompressed: its 5 MB could
#: otherwise unpack into gigabytes.
MAX_PARQUET_BYTES = 256 * 2**20

Value = str | float | int | bool | None
Many = Field(min_length=1, max_length=MAX_ROWS)


class FieldError(InputError):
    """A value of a request that the model cannot take, and where it is in the body."""

    def __init__(self, message: str, loc: tuple) -> None:
        super().__init__(message)
        self.loc = loc


class Row(BaseModel):
    row: dict[str, Value] = Field(description="column -> value, as in the training table")


class Rows(BaseModel):
    rows: list[dict[str, Value]] = Many


class Image(BaseModel):
    image: list[Any] = Field(description="pixel values 0..255: [height][width], or "
                             "[height][width][channels]; the schema's request.shape")


class Images(BaseModel):
    images: list[list[Any]] = Many


class Text(BaseModel):
    text: str


class Texts(BaseModel):
    texts: list[str] = Many


class Series(BaseModel):
    series: list[Any] = Field(description="[values] for one channel, [[values] per channel] "
                              "for several")


class SeriesBatch(BaseModel):
    series: list[list[Any]] = Many


class Audio(BaseModel):
    audio_base64: str = Field(description="a WAV file, base64-encoded")


class AudioBatch(BaseModel):
    audio_base64: list[str] = Many


#: The body of one example and of several, by modality.
BODIES = {"tabular": (Row, Rows), "image": (Image, Images), "text": (Text, Texts),
          "sequence": (Series, SeriesBatch), "audio": (Audio, AudioBatch)}


def examples(schema: dict, body: BaseModel, many: bool) -> np.ndarray:
    """The model input of a request's ``body`` (one example, or a list when ``many``)."""
    key = request_spec(schema)["batch_key" if many else "key"]
    values = getattr(body, key)
    items, locs = (values, [(key, i) for i in range(len(values))]) if many else \
        ([values], [(key,)])
    return MAKERS[schema["modality"]](schema.get("input") or {}, items, locs)


def _images(info: dict, items: list, locs: list) -> np.ndarray:
    shape = tuple(int(info[k]) for k in ("height", "width", "channels"))
    accepted = {shape, shape[:2]} if shape[2] == 1 else {shape}
    X = np.empty((len(items), *shape), dtype=np.uint8)
    for i, (item, loc) in enumerate(zip(items, locs)):
        values = numbers(item, loc)
        if values.shape not in accepted:
            wanted = list(shape[:2]) if shape[2] == 1 else list(shape)
            raise FieldError(f"an image of shape {list(values.shape)}; the model takes images "
                             f"of shape {wanted} (height, width{', channels' * (shape[2] > 1)})",
                             loc)
        outside = ~((values >= 0) & (values <= 255))
        if outside.any():
            where = tuple(int(k) for k in np.argwhere(outside)[0])
            raise FieldError(f"pixel value {float(values[where]):g} is outside 0..255",
                             loc + where)
        X[i] = np.rint(values).astype(np.uint8).reshape(shape)
    return X


def _texts(info: dict, items: list, locs: list) -> np.ndarray:
    docs = np.empty(len(items), dtype=object)
    docs[:] = items
    return docs


def _series(info: dict, items: list, locs: list) -> np.ndarray:
    length, channels = int(info["length"]), int(info.get("channels") or 1)
    X = np.empty((len(items), channels, length), dtype=np.float32)
    for i, (item, loc) in enumerate(zip(items, locs)):
        values = numbers(item, loc, missing=True)
        shape = list(values.shape)
        if values.ndim == 1:
            values = values[np.newaxis]
        if values.ndim != 2 or values.shape[0] != channels or values.shape[1] == 0:
            wanted = f"[up to {length} values]" if channels == 1 else \
                f"[{channels} channels][up to {length} values]"
            raise FieldError(f"a series of shape {shape}; the model takes {wanted}", loc)
        try:
            X[i] = series_like(values[np.newaxis], length, channels, [],
                               lambda row, t: f"value {t + 1}")[0]
        except InputError as exc:
            raise FieldError(str(exc), loc) from None
    return X


def _audio(info: dict, items: list, locs: list) -> np.ndarray:
    rate, frames = int(info["sample_rate"]), int(info["frames"])
    X = np.empty((len(items), N_MELS, frames), dtype=np.float32)
    for i, (item, loc) in enumerate(zip(items, locs)):
        name = "".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc)
        try:
            data = base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            raise FieldError(f"{name} is not base64; send the bytes of a WAV file, "
                             "base64-encoded", loc) from None
        try:
            clip = _wav(data, name)
            X[i] = log_mel_like([clip], [name], rate, frames, [])[0]
        except InputError as exc:
            raise FieldError(str(exc), loc) from None
    return X


def _wav(data: bytes, name: str) -> tuple[int, np.ndarray]:
    try:
        return read_wav(io.BytesIO(data), name)
    except InputError:
        raise
    except Exception as exc:  # crafted bytes reach corners of scipy's reader with other errors
        raise InputError(f"cannot read WAV file {name} ({type(exc).__name__}); send a WAV "
                         "file") from None


MAKERS = {"image": _images, "text": _texts, "sequence": _series, "audio": _audio}


def numbers(value, loc: tuple, missing: bool = False) -> np.ndarray:
    """A nested list of JSON numbers as float64 (``null`` as NaN where ``missing``); a value
    that is not a number (a string, true/false, a list where a number belongs) is a
    :class:`FieldError` locating it."""
    arr = np.array(value, dtype=object)  # Python's own types kept: true is no 1 here
    if arr.size:
        kinds = np.frompyfunc(type, 1, 1)(arr)
        good = (kinds == float) | (kinds == int) | ((kinds == type(None)) & missing)
        if not good.all():
            where = tuple(int(k) for k in np.argwhere(~good)[0])
            found = arr[where]
            what = ("a list where a number belongs (rows of different lengths?)"
                    if isinstance(found, list)
                    else f"{str(found)[:40]!r} is not a number")
            raise FieldError(f"{what}; send numbers" + (" (null for a missing value at the end)"
                             if missing else ""), loc + where)
    try:
        with np.errstate(over="ignore"):
            return np.where(arr == None, np.nan, arr).astype(np.float64)  # noqa: E711
    except OverflowError:
        raise FieldError("a number too large for a float", loc) from None


def read_upload(data: bytes) -> pd.DataFrame:
    """A table uploaded as a file, read as ``nnvsml predict`` reads a table file (CSV, TSV or
    Parquet, told by its content); at most :data:`MAX_ROWS` rows."""
    loc = ("file",)
    if data.startswith(GZIP_MAGIC):
        raise FieldError("the upload is gzip-compressed; send the CSV or Parquet file itself", loc)
    parquet = data.startswith(PARQUET_MAGIC)
    with tempfile.TemporaryDirectory(prefix="nnvsml-upload-") as folder:  # private: 0700
        path = Path(folder) / ("upload.parquet" if parquet else "upload.csv")
        path.write_bytes(data)
        try:
            if parquet:
                _check_parquet(path)
            table = read_table(path, [])
        except InputError as exc:
            raise FieldError(str(exc).replace(str(path), "the uploaded file"), loc) from None
    if len(table) > MAX_ROWS:
        raise FieldError(f"the table holds {len(table):,} rows; send at most {MAX_ROWS:,} per "
                         "request", loc)
    return table


def _check_parquet(path: Path) -> None:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except Exception:  # pyarrow raises several types for files that are not Parquet
        raise InputError("the uploaded file is not a readable Parquet file; send CSV or "
                         "Parquet") from None
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if meta.num_rows > MAX_ROWS or size > MAX_PARQUET_BYTES:
        raise InputError(f"the uploaded Parquet file holds {meta.num_rows:,} rows "
                         f"({size:,} bytes unpacked); send at most {MAX_ROWS:,} rows")
