"""What a path or an in-memory array holds, and the pieces the non-tabular loaders share.

Detection looks at names and layouts first (IDX files, UCR ``_TRAIN``/``_TEST`` pairs, class
folders) and reads contents only where names cannot tell: tables (a free-text column? numbered
series columns?) and ``.npz`` arrays (by shape). :func:`load_dataset` uses the same functions, so
what :func:`detect_modality` reports is what gets loaded.

Shared by the loaders: finding labelled files in class folders (:func:`labelled_files`), reading
possibly gzipped bytes, and turning arrays plus labels into a checked :class:`Dataset`
(:func:`labelled_dataset`).
"""

from __future__ import annotations

import gzip
import os
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nnvsml.data.columns import infer_columns
from nnvsml.data.dataset import MODALITIES, ColumnInfo, Dataset
from nnvsml.data.readers import parquet_files, read_table
from nnvsml.data.target import (
    MIN_ROWS,
    choose_target,
    infer_task,
    normalize_task,
    resolve_task,
    shorten_names,
)
from nnvsml.errors import InputError

#: The label name of datasets whose labels come from folders, file names or label arrays.
LABEL = "label"

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TEXT_SUFFIXES = (".txt",)
AUDIO_SUFFIXES = (".wav",)
#: File suffixes looked for in class folders, by modality.
FOLDER_SUFFIXES = {"image": IMAGE_SUFFIXES, "text": TEXT_SUFFIXES, "audio": AUDIO_SUFFIXES}
#: Sub-folder names that announce a given train/test split (compared lower-case).
SPLIT_FOLDERS = (("train", "test"), ("training", "testing"))

#: ``GunPoint_TRAIN.tsv.gz``: the UCR archive's naming (older releases used .txt, .csv or no suffix).
UCR_FILE = re.compile(r"^(?P<name>.+)_(?P<part>TRAIN|TEST)(?:\.(?:tsv|txt|csv))?(?:\.gz)?$")
#: ``train-images-idx3-ubyte.gz``, ``t10k-labels.idx1-ubyte``: MNIST-style IDX files.
IDX_FILE = re.compile(r"idx(?P<ndim>[13])[-.]ubyte(?:\.gz)?$", re.IGNORECASE)

#: A table is read as one series per row only with at least this many numbered columns...
MIN_SERIES_COLUMNS = 10
#: ... and when neighbouring columns move together: the 10th percentile of the correlations
#: between column t and t+1 must reach this. Real series score >= 0.5 (UCR GunPoint 0.98, ECG200
#: 0.74, ItalyPowerDemand 0.51); tables with numbered feature names score <= 0.16 (spambase,
#: breast cancer) or below 0 (satimage: 4 spectral bands interleaved per pixel).
MIN_NEIGHBOUR_CORRELATION = 0.3
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)$")
_SAMPLE_ROWS = 2000

SUPPORTED = (
    "a CSV/TSV/Parquet table; a .npz file of arrays; a folder of MNIST-style IDX files; "
    "a UCR folder (NAME_TRAIN.tsv and NAME_TEST.tsv); a folder with one sub-folder per class "
    "(optionally under train/ and test/) of images (PNG/JPEG/BMP/GIF), .txt files or .wav files; "
    "a folder of <label>_<anything>.wav files"
)


def normalize_modality(modality: str | None) -> str | None:
    """The requested modality, lower-cased, or ``None`` to detect it; unknown names are an error."""
    if modality is None:
        return None
    requested = str(modality).strip().lower()
    if requested == "auto":
        return None
    if requested not in MODALITIES:
        raise InputError(
            f"unknown modality '{modality}'; use one of: auto, {', '.join(MODALITIES)}"
        )
    return requested


# --- layouts of paths ------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """How the data at a path is stored.

    ``kind`` is ``table``, ``npz``, ``idx``, ``ucr``, ``class_folders`` or ``flat_audio``;
    ``path`` is the file or the folder holding the data (the folder when the user pointed at one
    of its IDX or UCR files); ``modality`` is known from the layout alone, or ``None`` when the
    content decides (tables, npz).
    """

    kind: str
    path: Path
    modality: str | None


def detect_layout(path: str | os.PathLike, modality: str | None = None) -> Layout:
    """The :class:`Layout` of ``path``; a folder with nothing recognisable is an InputError.

    ``modality``, when the user gave one, turns an unrecognisable folder into class folders of
    that modality, so the loader can say precisely which files it looked for.
    """
    path = Path(path)
    if path.is_dir():
        return _folder_layout(path, modality)
    if path.suffix.lower() == ".npz":
        return Layout("npz", path, None)
    if IDX_FILE.search(path.name) and path.is_file():
        return Layout("idx", path.parent, "image")
    if is_ucr_file(path):
        return Layout("ucr", path.parent, "sequence")
    # Anything else, missing files included, is a table: read_table names the problem.
    return Layout("table", path, None)


def _folder_layout(folder: Path, modality: str | None) -> Layout:
    if parquet_files(folder):
        return Layout("table", folder, None)  # one table written as several Parquet files
    files = visible_files(folder)
    if any(IDX_FILE.search(f.name) for f in files):
        return Layout("idx", folder, "image")
    if any(is_ucr_file(f) for f in files):
        return Layout("ucr", folder, "sequence")
    roots = split_folders(folder) or (folder,)
    counts = _class_folder_counts(roots[0])
    if counts:
        return Layout("class_folders", folder, max(counts, key=lambda m: counts[m]))
    if any(f.suffix.lower() in AUDIO_SUFFIXES for f in files):
        return Layout("flat_audio", folder, "audio")
    if modality in FOLDER_SUFFIXES:
        return Layout("class_folders", folder, modality)
    named = next((f for f in files if UCR_FILE.match(f.name)), None)
    if named is not None:
        raise InputError(
            f"{named} is named like a UCR file but {_ucr_line_problem(named)}; each line of a "
            "UCR file is a label, then the series' numbers (no header): fix the file, or pass it "
            "as a table"
        )
    raise InputError(
        f"{folder} holds nothing loadable (for a table, pass the file itself); supported: {SUPPORTED}"
    )


def _class_folder_counts(root: Path) -> Counter:
    """How many image, text and audio files the class folders under ``root`` hold."""
    counts: Counter = Counter()
    for sub in visible_dirs(root):
        for f in class_folder_files(sub)[0]:
            for modality, suffixes in FOLDER_SUFFIXES.items():
                if f.suffix.lower() in suffixes:
                    counts[modality] += 1
    return counts


def is_ucr_file(path: Path) -> bool:
    """A ``NAME_TRAIN``/``NAME_TEST`` file whose first line is a label then numbers.

    The content check keeps a user's table that merely ends in ``_TRAIN.csv`` a table: its
    header names columns, which are not numbers, or are numbered ``0, 1, 2...``.
    """
    return UCR_FILE.match(path.name) is not None and _ucr_line_problem(path) is None


def holds_ucr_lines(path: Path) -> bool:
    """Whether the first line of ``path``, whatever its name, reads as a UCR line: numbers
    after a first field (a label, or the series' first value), no header."""
    return _ucr_line_problem(path) is None


def _ucr_line_problem(path: Path) -> str | None:
    """Why the first line of ``path`` is not a UCR line (a label, then numbers), or ``None``."""
    if not path.is_file():
        return "it is not a file"
    try:
        line = first_line(path)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError):
        return "it cannot be read as text"
    fields = split_fields(line)
    if len(fields) < 2:
        return "its first line has no series values after the label"
    values = fields[1:]
    bad = next((f for f in values if not _is_number(f)), None)
    if bad is not None:
        return f"its first line holds {bad[:30]!r}, not a number, after the label"
    if _column_numbers(values):
        return "its first line is a header of numbered columns (a table's)"
    return None


def _column_numbers(fields: list[str]) -> bool:
    """``0, 1, 2...`` (from any start): a header's column numbers, never a measured series."""
    if len(fields) < 2 or not fields[0].isdigit():
        return False
    start = int(fields[0])
    return fields == [str(start + i) for i in range(len(fields))]


def split_fields(line: str) -> list[str]:
    """Fields of a UCR line: tab- or comma-separated, else whitespace-separated."""
    # A leading tab or comma is kept: it ends an empty first field, the label.
    line = line.rstrip().lstrip(" ")
    for delimiter in ("\t", ","):
        if delimiter in line:
            return [f.strip() for f in line.split(delimiter)]
    return line.split()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == ""  # an empty field is a missing value, still a number column
    return True


# --- modality ----------------------------------------------------------------------------------


def detect_modality(path: str | os.PathLike) -> str:
    """The modality of the data at ``path``: tabular, image, text, sequence or audio.

    Folders: IDX files -> image; ``NAME_TRAIN``/``NAME_TEST`` files -> sequence; class
    sub-folders (possibly under train/ and test/) -> the most frequent of images, .txt or .wav
    files; flat .wav files -> audio. Files: .npz -> by array shape (see :func:`array_modality`);
    an IDX or UCR file -> its folder; tables -> :func:`table_modality`.
    """
    layout = detect_layout(path)
    if layout.modality is not None:
        return layout.modality
    if layout.kind == "npz":
        X, _, _ = read_npz(layout.path)
        return array_modality(X, npz=True)
    df = read_table(layout.path)
    target = choose_target(list(df.columns), None, [])
    X = df.drop(columns=[target])
    return table_modality(X, infer_columns(X))[0]


def table_modality(X: pd.DataFrame, columns: list[ColumnInfo]) -> tuple[str, str]:
    """``(modality, reason)`` for a table's feature columns ``X`` (target excluded).

    text: a free-text column and no other usable feature (id and constant columns do not count);
    sequence: :func:`series_columns` finds the numbered columns of one series per row;
    tabular otherwise. ``reason`` is a one-line explanation for a notice ("" for tables).
    """
    text = [c.name for c in columns if c.kind == "text"]
    if text and not any(c.used for c in columns):
        return "text", f"free-text column(s) {shorten_names(text)} and no other usable feature"
    names = series_columns(X, columns)
    if names:
        return "sequence", (
            f"{len(names)} numbered columns {names[0]}..{names[-1]} hold one series per row"
        )
    # Merely numbered feature columns (spambase's 0..56) stay a table, silently: tabular
    # datasets load exactly as they always have.
    return "tabular", ""


def numbered_columns(names: list[str]) -> list[str] | None:
    """The longest run of columns named ``<prefix><n>``, ``<prefix><n+1>``... (same prefix), or None.

    Digits only (``0, 1, 2...``) count as an empty prefix; zero-padded numbers are fine.
    """
    best: list[str] = []
    run: list[str] = []
    previous: tuple[str, int] | None = None
    for name in names:
        match = _NUMBERED.match(str(name))
        current = (match["prefix"], int(match["number"])) if match else None
        if current and previous and current == (previous[0], previous[1] + 1):
            run.append(name)
        else:
            run = [name] if current else []
        previous = current
        if len(run) > len(best):
            best = list(run)
    return best or None


def series_columns(X: pd.DataFrame, columns: list[ColumnInfo]) -> list[str] | None:
    """The columns of one series per row, when the table is clearly that, else ``None``.

    Needs >= 10 numeric columns named with one prefix and consecutive integers (``t0, t1...``,
    ``x_1, x_2...``, ``0, 1...``), no other usable feature column, and neighbouring columns that
    move together (see :data:`MIN_NEIGHBOUR_CORRELATION`): tables whose features are merely
    numbered (spambase's ``0..56``) stay tables.
    """
    names = numbered_columns(list(X.columns))
    if not names or len(names) < MIN_SERIES_COLUMNS:
        return None
    if not all(pd.api.types.is_numeric_dtype(X[n].dtype) for n in names):
        return None
    chosen = set(names)
    if any(c.used and c.name not in chosen for c in columns):
        return None
    return names if neighbour_correlation(X[names]) >= MIN_NEIGHBOUR_CORRELATION else None


def neighbour_correlation(values: pd.DataFrame) -> float:
    """10th percentile, over t, of the correlation across rows between columns t and t+1.

    A low quantile rather than the mean: a table of interleaved measurements has some strongly
    correlated neighbours but not all, while every step of a series resembles the previous one.
    """
    Z = values.to_numpy(dtype=np.float64)
    if len(Z) > _SAMPLE_ROWS:
        Z = Z[np.random.default_rng(0).choice(len(Z), _SAMPLE_ROWS, replace=False)]
    if len(Z) < 3:
        return 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.nanstd(Z, axis=0)
        Z = (Z - np.nanmean(Z, axis=0)) / np.where(std > 0, std, np.nan)
        correlations = np.nanmean(Z[:, :-1] * Z[:, 1:], axis=0)
    correlations = correlations[np.isfinite(correlations)]
    return float(np.quantile(correlations, 0.1)) if len(correlations) else 0.0


def array_modality(X, npz: bool = False) -> str:
    """The modality of an array of examples.

    In memory: uint8 with 3 or 4 dimensions -> image; 1-D strings -> text; floats with 2 or 3
    dimensions -> sequence. In an .npz file, 3 or 4 dimensions -> image whatever the dtype
    (images are often saved as floats in [0, 1]), 2 numeric dimensions -> sequence.
    """
    X = np.asarray(X)
    kind = X.dtype.kind
    if X.ndim == 1 and kind in "OUS":
        return "text"
    if npz and kind in "biuf":
        if X.ndim in (3, 4):
            return "image"
        if X.ndim == 2:
            return "sequence"
    if X.dtype == np.uint8 and X.ndim in (3, 4):
        return "image"
    if kind == "f" and X.ndim in (2, 3):
        return "sequence"
    raise InputError(
        f"cannot tell what a {X.dtype} array of shape {X.shape} holds; expected uint8 images "
        "(n, height, width[, channels]), 1-D strings (texts) or floats (n, length) / "
        "(n, channels, length) (series); pass --modality to choose"
    )


# --- arrays ------------------------------------------------------------------------------------

def _check_npz_sizes(path: Path) -> None:
    """Refuse an .npz whose arrays' headers claim more bytes than the file holds (or than this
    machine has), before NumPy allocates what a header asks for: a 1 KB file could otherwise
    ask for hundreds of GB."""
    import psutil
    from numpy.lib import format as npy

    available = psutil.virtual_memory().available
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as member:
                version = npy.read_magic(member)
                reader = npy.read_array_header_1_0 if version == (1, 0) \
                    else npy.read_array_header_2_0
                shape, _, dtype = reader(member, max_header_size=10_000)
            claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            name = info.filename[:-4]
            if claimed > info.file_size or claimed > available:
                raise InputError(
                    f"{path}: array '{name}' claims shape {tuple(shape)} ({claimed / 2**30:.3g} "
                    f"GiB) but the file holds {info.file_size:,} bytes for it (or the machine "
                    "has less memory); the file is damaged: re-save it with numpy.savez")


_X_KEYS = ("x", "images", "data")
_Y_KEYS = ("y", "labels", "targets")


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """``(X, y, split)`` from an .npz file holding ``x``/``y`` or ``x_train``/``y_train``/``x_test``/``y_test``.

    Keys are matched case-insensitively; ``images``/``data`` and ``labels``/``targets`` are
    accepted for ``x`` and ``y``. With train and test arrays, train rows come first and the split
    is returned as positions.
    """
    try:
        _check_npz_sizes(path)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key.lower(): archive[key] for key in archive.files}
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"{path} holds arrays too large for this machine's memory; use "
                         "fewer rows") from None
    except FileNotFoundError:
        raise InputError(f"file not found: {path}; check the path") from None
    except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as e:
        raise InputError(
            f"cannot read {path} as a NumPy .npz file ({_first(e)}); re-save it with numpy.savez"
        ) from None
    if {"x_train", "y_train", "x_test", "y_test"} <= set(arrays):
        x_train, x_test = arrays["x_train"], arrays["x_test"]
        y_train, y_test = _labels_1d(arrays["y_train"]), _labels_1d(arrays["y_test"])
        for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            if len(x) != len(y):
                raise InputError(
                    f"{path}: x_{part} has {len(x)} rows but y_{part} has {len(y)}; they must match"
                )
        if x_train.shape[1:] != x_test.shape[1:]:
            raise InputError(
                f"{path}: x_train examples have shape {x_train.shape[1:]} but x_test ones "
                f"{x_test.shape[1:]}; they must match"
            )
        n_train = len(x_train)
        split = (np.arange(n_train), np.arange(n_train, n_train + len(x_test)))
        return np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test]), split
    x_key = next((k for k in _X_KEYS if k in arrays), None)
    y_key = next((k for k in _Y_KEYS if k in arrays), None)
    if x_key is None or y_key is None:
        raise InputError(
            f"{path} holds the arrays {', '.join(sorted(arrays)) or '(none)'}; expected x and y "
            "(or images/data and labels/targets), or x_train, y_train, x_test and y_test"
        )
    X, y = arrays[x_key], _labels_1d(arrays[y_key])
    if len(X) != len(y):
        raise InputError(
            f"{path}: {x_key} has {len(X)} rows but {y_key} has {len(y)}; they must match"
        )
    return X, y, None


def _labels_1d(y: np.ndarray) -> np.ndarray:
    """Labels as one value per row: a column vector is flattened, one-hot rows become indices."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if y.ndim == 2 and np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all():
        return y.argmax(axis=1)
    if y.ndim != 1:
        raise InputError(f"labels must be one value per example, got an array of shape {y.shape}")
    return y


def array_labels(y, n_rows: int, what: str = "y") -> np.ndarray:
    """In-memory labels checked against the number of examples."""
    y = _labels_1d(np.asarray(y.to_numpy() if isinstance(y, pd.Series) else y))
    if len(y) != n_rows:
        raise InputError(
            f"{what} has {len(y)} labels but there are {n_rows} examples; they must match"
        )
    return y


# --- class folders ---------------------------------------------------------------------------


@dataclass
class LabelledFiles:
    """Files of one modality with their labels (class names) and the split they came with."""

    paths: list[Path]
    labels: list[str]
    split: tuple[np.ndarray, np.ndarray] | None = None

    def subset(self, keep) -> LabelledFiles:
        """The files where ``keep`` is true, the split's positions renumbered to match."""
        keep = np.asarray(keep, dtype=bool)
        split = None
        if self.split is not None:
            position = np.cumsum(keep) - 1  # where each kept file lands
            split = tuple(position[part[keep[part]]] for part in self.split)
        return LabelledFiles(
            [p for p, k in zip(self.paths, keep) if k],
            [label for label, k in zip(self.labels, keep) if k],
            split,
        )


def visible_files(folder: Path) -> list[Path]:
    """Files directly in ``folder``, sorted, without hidden ones (``.DS_Store``...)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def visible_dirs(folder: Path) -> list[Path]:
    """Sub-folders of ``folder``, sorted by name, without hidden ones (``.git``, ``__MACOSX``)
    and without symbolic links, which could lead out of the data folder."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith((".", "__"))
    )


def _linked_dirs(folder: Path) -> list[Path]:
    """Symbolic links to folders directly in ``folder`` (not hidden): class folders we skip."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_symlink() and p.is_dir() and not p.name.startswith((".", "__"))
    )


def class_folder_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """``(files, symbolic links)`` in a class folder and its nested sub-folders, sorted.

    Class folders may keep their files in nested folders (e.g. by date): all belong to the
    class. Hidden names are skipped. Links, to files or folders, are listed apart and never
    followed: one could pull in data from anywhere on the disk.
    """
    files: list[Path] = []
    links: list[Path] = []
    for top, dirs, names in os.walk(folder):  # does not descend into linked folders
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in dirs:
            if (Path(top) / name).is_symlink():
                links.append(Path(top) / name)
        for name in names:
            path = Path(top) / name
            if name.startswith("."):
                continue
            if path.is_symlink():
                links.append(path)
            elif path.is_file():
                files.append(path)
    return sorted(files), sorted(links)


def split_folders(folder: Path) -> tuple[Path, Path] | None:
    """``(train, test)`` sub-folders when ``folder`` comes with a split, else ``None``.

    A train folder without its test folder (or the reverse) is an error rather than a class
    named "train".
    """
    by_name = {p.name.lower(): p for p in visible_dirs(folder)}
    for train, test in SPLIT_FOLDERS:
        if train in by_name and test in by_name:
            return by_name[train], by_name[test]
        if train in by_name or test in by_name:
            have, lack = (train, test) if train in by_name else (test, train)
            raise InputError(
                f"{folder} has a {have}/ folder but no {lack}/ folder; add {lack}/ with the same "
                "class folders, or move the class folders up into one folder"
            )
    return None


def labelled_files(folder: Path, modality: str, notices: list[str]) -> LabelledFiles:
    """The ``modality``'s files in ``folder/<class>/`` (or ``folder/train|test/<class>/``).

    The class is the sub-folder's name; files in folders nested inside it belong to it too.
    Files of other types are ignored, symbolic links skipped (never followed), and nested files
    counted, each with a notice; a class with a single example, a single class, or no file at
    all is an :class:`InputError`.
    """
    suffixes = FOLDER_SUFFIXES[modality]
    split = split_folders(folder)
    parts = split or (folder,)
    if split:
        _check_same_classes(folder, *split)
    paths: list[Path] = []
    labels: list[str] = []
    ignored: list[Path] = []
    links: list[Path] = []
    nested: list[Path] = []
    part_sizes = []
    for root in parts:
        size = 0
        links += _linked_dirs(root)
        for class_folder in visible_dirs(root):
            files, linked = class_folder_files(class_folder)
            links += linked
            for f in files:
                if f.suffix.lower() in suffixes:
                    paths.append(f)
                    labels.append(class_folder.name)
                    size += 1
                    if f.parent != class_folder:
                        nested.append(f)
                else:
                    ignored.append(f)
        part_sizes.append(size)
    wanted = "/".join(s.lstrip(".").upper() for s in suffixes)
    if not paths:
        raise InputError(
            f"no {modality} files ({wanted}) found in {folder}; put them in one sub-folder per "
            "class (optionally under train/ and test/)"
        )
    if ignored:
        notices.append(
            f"ignored {len(ignored)} file(s) that are not {wanted} in the class folders "
            f"(first: {ignored[0]})"
        )
    if links:
        notices.append(
            f"skipped {len(links)} symbolic link(s) among the class folders, which are never "
            f"followed (first: {links[0]}); copy the files in to use them"
        )
    if nested:
        notices.append(
            f"{len(nested)} file(s) came from sub-folders nested in a class folder (first: "
            f"{nested[0]}); each belongs to the class of the top-level folder holding it"
        )
    check_classes(labels, paths, folder, modality)
    if split:
        n_train = part_sizes[0]
        if part_sizes[1] == 0:
            raise InputError(
                f"{split[1]} holds no {modality} files ({wanted}); add the test examples"
            )
        return LabelledFiles(paths, labels, (np.arange(n_train), np.arange(n_train, len(paths))))
    return LabelledFiles(paths, labels)


def _check_same_classes(folder: Path, train: Path, test: Path) -> None:
    train_classes = {p.name for p in visible_dirs(train)}
    test_classes = {p.name for p in visible_dirs(test)}
    if train_classes != test_classes:
        only_train = shorten_names(sorted(train_classes - test_classes)) or "none"
        only_test = shorten_names(sorted(test_classes - train_classes)) or "none"
        raise InputError(
            f"{train.name}/ and {test.name}/ in {folder} have different class folders (only in "
            f"{train.name}: {only_train}; only in {test.name}: {only_test}); give both the same "
            "class folders"
        )


def flat_audio_files(folder: Path, notices: list[str]) -> LabelledFiles:
    """``folder/<label>_<anything>.wav`` files: the label is the name up to the first underscore."""
    files = [f for f in visible_files(folder) if f.suffix.lower() in AUDIO_SUFFIXES]
    if not files:
        raise InputError(
            f"no WAV files found in {folder}; add <label>_<name>.wav files or class folders"
        )
    unlabelled = [f for f in files if "_" not in f.stem or not f.stem.split("_", 1)[0]]
    if unlabelled:
        raise InputError(
            f"{unlabelled[0]} has no label in its name; name flat WAV files <label>_<anything>.wav "
            "or put them in one sub-folder per class"
        )
    labels = [f.stem.split("_", 1)[0] for f in files]
    check_classes(labels, files, folder, "audio")
    return LabelledFiles(files, labels)


def unlabelled_files(path: Path, modality: str, notices: list[str]) -> tuple[Path, list[Path]]:
    """``(root, files)``: new ``modality`` files to predict, without labels.

    ``path`` is one such file, or a folder whose files (in it and in any folder nested in it:
    class folders, train/ and test/, or none) are taken, sorted; ``root`` is what their names
    are relative to. Inside the folder, links are skipped and never followed (notice), as
    training does: one could pull in a file from anywhere on the disk. No file at all is an
    :class:`InputError`.
    """
    suffixes = FOLDER_SUFFIXES[modality]
    wanted = "/".join(s.lstrip(".").upper() for s in suffixes)
    if path.is_file():
        if path.suffix.lower() not in suffixes:
            raise InputError(f"{path} is not a {wanted} file; pass such a file or a folder of them")
        return path.parent, [path]
    if not path.is_dir():
        raise InputError(f"file not found: {path}; check the path")
    files, links = class_folder_files(path)
    found = [f for f in files if f.suffix.lower() in suffixes]
    if links:
        notices.append(f"skipped {len(links)} symbolic link(s) in {path}, which are never "
                       f"followed (first: {links[0]}); copy the files in to use them")
    if not found:
        raise InputError(f"no {modality} files ({wanted}) found in {path} or its sub-folders; "
                         f"pass a folder holding {wanted} files")
    return path, found


def check_classes(labels: list, paths: list[Path], folder: Path, what: str) -> None:
    """A dataset of files needs two classes, each with two examples (for a stratified split)."""
    counts = Counter(labels)
    if len(counts) < 2:
        raise InputError(
            f"{folder} has a single class ('{next(iter(counts))}'); a classifier needs at least "
            "two: add one sub-folder (or label) per class"
        )
    for label, count in counts.items():
        if count < 2:
            example = paths[labels.index(label)]
            raise InputError(
                f"class '{label}' in {folder} has a single {what} example ({example}); each class "
                "needs at least 2: add examples or remove the class"
            )


# --- bytes -----------------------------------------------------------------------------------


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic bytes."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except FileNotFoundError:
        raise InputError(f"file not found: {path}; check the path") from None
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(
            f"cannot read {path} ({_first(e)}); check or re-download the file"
        ) from None


def first_line(path: Path) -> str:
    """The first line of a text file, gzipped or not (without reading the rest)."""
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(path, "rb") as f:
        return f.readline(1 << 20).decode("utf-8-sig")


def _first(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --- the Dataset -----------------------------------------------------------------------------


def labelled_dataset(
    X,
    labels,
    *,
    modality: str,
    name: str,
    source: str,
    task: str | None = None,
    notices: list[str] | None = None,
    info: dict | None = None,
    split: tuple[np.ndarray, np.ndarray] | None = None,
    target: str = LABEL,
    from_column: bool = False,
) -> Dataset:
    """A non-tabular :class:`Dataset` from examples ``X`` and their class labels.

    Non-tabular models classify, so the task is binary or multiclass: ``regression`` is an
    error, and numeric labels are class labels even when there are many of them. When the labels
    come from a table's column (``from_column``) and look continuous, the error says so instead
    of making hundreds of classes.
    """
    notices = notices if notices is not None else []
    requested = normalize_task(task)
    if requested == "regression":
        raise InputError(
            f"regression is supported on tables only; this is a {modality} dataset: use "
            "--task classification (binary or multiclass)"
        )
    y = pd.Series(np.asarray(labels), name=target)
    if len(y) < MIN_ROWS:
        raise InputError(f"too few examples to split ({len(y)}); need at least {MIN_ROWS}")
    if requested is None and from_column:
        if infer_task(y)[0] == "regression":
            raise InputError(
                f"target '{target}' looks continuous ({y.nunique()} distinct numbers), but "
                f"regression is supported on tables only; pass --task classification if these "
                f"are class labels, or --modality tabular"
            )
    task_name, y, classes = resolve_task(y, requested or "classification", notices)
    if requested is None:
        notices.append(
            f"task: {task_name} ({target} has {len(classes)} classes); pass --task to choose another"
        )
    return Dataset(
        name=name,
        X=X,
        y=y.reset_index(drop=True),
        target=target,
        task=task_name,
        columns=[],
        modality=modality,
        classes=classes,
        notices=notices,
        source=source,
        split=split,
        info=info or {},
    )
