"""The files a run writes beside results.json, and when to trust them again.

A run directory is untrusted input: it may have been copied, edited or handed over by someone
else, and results.json is only text. So:

* every path read from results.json is resolved and confined to the run directory
  (:func:`confined`); a path that leaves it is not followed;
* arrays (predictions, the test rows' labels) are stored as plain NumPy arrays and read with
  ``allow_pickle=False`` (:func:`save_arrays`, :func:`load_arrays`);
* a model file is a pickle, and loading a pickle runs code. A model is loaded only when its
  entry carries this user's *signature* of its files' SHA-256 digests: an HMAC keyed with a
  secret kept outside every run directory (:func:`sign`, :func:`untrusted`), and only when the
  file still has that digest (:func:`load_model`). A run directory copied from another user or
  machine therefore resumes by training its models again, never by loading them.

The key is ``$XDG_CONFIG_HOME/nnvsml/signing.key`` (``~/.config`` by default), 32 random bytes
created private (0600) on first use. Where it cannot be kept, a key for this process alone is
used: models written by earlier processes are then not trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
import secrets
import stat
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

#: The artifact fields a signature covers, in a fixed order.
SIGNED = ("model", "model_sha256", "predictions", "predictions_sha256")
KEY_BYTES = 32
#: Hex digits of a file's digest in its name.
NAME_DIGITS = 16
#: Where each kind of file of a model lives, and its suffix.
FOLDERS = {"model": ("models", ".joblib"), "predictions": ("predictions", ".npz")}


def file_name(kind: str, model: str, sha256: str) -> str:
    """The run-relative path of one of a model's files: named by its content, so that a later
    stage of the same model never overwrites the files an entry of results.json points to (a
    stage killed after writing leaves only files of its own, which the next record removes)."""
    folder, suffix = FOLDERS[kind]
    return f"{folder}/{model}-{sha256[:NAME_DIGITS]}{suffix}"


def stale_files(run_dir: Path | str, model: str, keep: dict) -> list[Path]:
    """The files of ``model`` in the run directory that its entry (``keep``, its artifacts)
    does not point to: those of earlier stages, and of a stage stopped before it reported."""
    kept = {value for value in keep.values() if isinstance(value, str)}
    pattern = re.compile(re.escape(model) + rf"-[0-9a-f]{{{NAME_DIGITS}}}\..+")
    out = []
    for folder in sorted({folder for folder, _ in FOLDERS.values()}):
        for path in sorted((Path(run_dir) / folder).glob(f"{model}-*")):
            if pattern.fullmatch(path.name) and f"{folder}/{path.name}" not in kept:
                out.append(path)
    return out


def confined(run_dir: Path | str, relative) -> Path | None:
    """``run_dir / relative`` resolved, or None when ``relative`` is not a relative path that
    stays inside ``run_dir`` (after symbolic links are followed)."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        return None
    if Path(relative).is_absolute():
        return None
    root = Path(run_dir).resolve()
    path = (root / relative).resolve()
    return path if path != root and path.is_relative_to(root) else None


def digest(path: Path | str) -> str:
    """SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sign(artifacts: dict) -> str:
    """This user's signature of an entry's artifact paths and digests."""
    message = json.dumps([artifacts.get(k) for k in SIGNED], separators=(",", ":"))
    return hmac.new(_key(), message.encode(), hashlib.sha256).hexdigest()


def untrusted(run_dir: Path | str, artifacts: dict) -> str | None:
    """Why an entry's files cannot be trusted, or None when they can: signed by this user, each
    path inside the run directory, each file still holding the signed digest."""
    if not isinstance(artifacts, dict) or not artifacts.get("model"):
        return "it has no model file"
    signature = artifacts.get("signature")
    if not isinstance(signature, str) or not hmac.compare_digest(signature, sign(artifacts)):
        return "its files are not signed by this user (copied or edited run directory)"
    for name, key in (("model", "model_sha256"), ("predictions", "predictions_sha256")):
        path = confined(run_dir, artifacts.get(name))
        if path is None or not path.is_file():
            return f"its {name} file is missing or outside the run directory"
        if digest(path) != artifacts.get(key):
            return f"its {name} file changed since it was written"
    return None


def load_model(run_dir: Path | str, artifacts: dict):
    """The fitted model of an entry the main process has checked with :func:`untrusted`, loaded
    only from inside the run directory and only while the file has the digest it was signed
    with."""
    import joblib

    path = confined(run_dir, artifacts.get("model"))
    if path is None or not path.is_file():
        raise FileNotFoundError("the model file is missing or outside the run directory")
    expected = artifacts.get("model_sha256")
    if not isinstance(expected, str) or digest(path) != expected:
        raise PermissionError("the model file is not the one this run wrote; not loaded")
    return joblib.load(path)


def save_arrays(path: Path, **arrays) -> None:
    """An ``.npz`` of plain arrays: labels held as Python objects (strings) are stored as text,
    so that reading needs no pickle. The same arrays give the same bytes (and digest): the
    archive's entries carry a fixed date, where ``np.savez`` stamps the time of writing."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, values in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, plain(values), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def load_arrays(path: Path | None, expected_digest: str | None = None) -> dict | None:
    """The arrays of an ``.npz`` written by :func:`save_arrays`, or None when it is missing,
    unreadable, holds pickled objects, or does not have ``expected_digest``."""
    if path is None or not path.is_file():
        return None
    if expected_digest is not None and digest(path) != expected_digest:
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, KeyError, MemoryError):
        return None


def plain(values) -> np.ndarray:
    """``values`` as an array that needs no pickle: object arrays (string labels) become text."""
    array = np.asarray(values)
    if array.dtype == object:
        return array.astype(str)
    return array


@lru_cache(maxsize=1)
def _key() -> bytes:
    path = _key_path()
    try:
        return _read_or_create(path)
    except OSError:
        return secrets.token_bytes(KEY_BYTES)


def config_dir() -> Path:
    """This user's nnvsml folder: ``$XDG_CONFIG_HOME/nnvsml`` (``~/.config/nnvsml``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "nnvsml"


def _key_path() -> Path:
    return config_dir() / "signing.key"


def _read_or_create(path: Path) -> bytes:
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, mode=0o700)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        create_private(path, key)
    except FileExistsError:
        return _read_key(path)
    return key


def create_private(path: Path, data: bytes) -> None:
    """A new file readable by this user only (0600), never written through a link or over an
    existing file (FileExistsError)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _read_key(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        # A key others could read or replace would let them sign a model file of their own.
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid()
                or info.st_mode & 0o077):
            raise PermissionError(f"{path} is not a private file of this user")
        key = f.read(KEY_BYTES + 1)
    if len(key) != KEY_BYTES:
        raise OSError(f"{path} does not hold a {KEY_BYTES}-byte key")
    return key
