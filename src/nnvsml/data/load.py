"""``load_dataset``: a file, folder, arrays, DataFrame or the bundled sample in, a :class:`Dataset` out.

Tables keep the tabular path (column inference, task inference). Everything else is detected
(see :mod:`nnvsml.data.detect`) and handed to its modality's loader, which returns the layout
the models of that modality expect.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from nnvsml.data.audio import load_audio_folder
from nnvsml.data.bundled import BUNDLED, BUNDLED_TARGET, DEFAULT_BUNDLED, load_bundled
from nnvsml.data.columns import infer_columns
from nnvsml.data.dataset import ColumnInfo, Dataset
from nnvsml.data.detect import (
    FOLDER_SUFFIXES,
    Layout,
    array_labels,
    array_modality,
    detect_layout,
    labelled_dataset,
    normalize_modality,
    read_npz,
    table_modality,
)
from nnvsml.data.images import (
    image_array,
    image_info,
    load_idx_folder,
    load_image_folder,
)
from nnvsml.data.large import BATCH_ROWS, LargeOptions, TableScan, draw_rows, plan_rows
from nnvsml.data.readers import STDIN, is_stream, read_table
from nnvsml.data.series import load_ucr, series_array, series_from_table
from nnvsml.data.target import (
    MAX_NAMES_SHOWN,
    MIN_ROWS,
    choose_target,
    drop_missing_target,
    normalize_task,
    resolve_task,
    shorten_names,
)
from nnvsml.data.text import as_documents, load_text_folder, text_from_table, text_info
from nnvsml.errors import InputError, printable
from nnvsml.unsupervised import data as unlabelled

#: Suffixes stripped from a file name to name the dataset ("adult.tsv.gz" -> "adult").
_NAME_SUFFIXES = {".gz", ".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".npz"}

#: How dropped columns are described in notices, by kind.
_DROPPED = {
    "id": "ID-like",
    "constant": "constant",
    "empty": "empty (all missing)",
    "text": "free-text (pass --modality text to model the text alone)",
}

#: What each path layout holds, and where its labels come from, for messages.
_LAYOUTS = {
    "idx": ("MNIST-style IDX image files", "the IDX label files"),
    "ucr": ("UCR time series files", "the first column of the UCR files"),
    "class_folders": ("class folders of {modality} files", "the class folder names"),
    "flat_audio": ("<label>_<name>.wav files", "the WAV file names"),
    "npz": ("arrays", "the label array"),
}
_FOLDER_LOADERS = {"image": load_image_folder, "text": load_text_folder, "audio": load_audio_folder}


def load_dataset(
    data: str | os.PathLike | pd.DataFrame | tuple | None = None,
    target: str | None = None,
    task: str | None = None,
    name: str | None = None,
    modality: str | None = None,
    large: LargeOptions = LargeOptions(),
    unsupervised: unlabelled.UnsupervisedOptions = unlabelled.UnsupervisedOptions(),
    unlabeled: str = "drop",
) -> Dataset:
    """Load and check a dataset of any modality.

    ``data`` is a path (a CSV/TSV/Parquet table, an .npz file, a folder of images, texts, WAV
    files, IDX files or a UCR pair), a DataFrame (copied), an ``(X, y)`` pair of arrays, or
    ``None`` for the bundled sample of UCI Adult. ``modality`` is None/"auto" to detect it (see
    :func:`~nnvsml.data.detect.detect_modality`) or one of tabular, image, text, sequence, audio.
    For tables, ``target`` defaults to a column named target/label/class/y, else the last column;
    datasets whose labels come from folders, file names or arrays ignore it (notice). ``task`` is
    binary, multiclass, regression (tables only), classification or ``None``/auto to infer it.
    Rows with a missing target are dropped, or with ``unlabeled="use"`` (tables, classification)
    kept apart as ``Dataset.X_unlabelled`` for the semi-supervised candidates. Everything decided on the user's behalf is listed in
    ``Dataset.notices``; anything unusable raises :class:`InputError`. A table larger than memory
    (or than ``large.in_memory_rows``) is read in batches and split here, with ``large``'s seed
    and test fraction (see :mod:`nnvsml.data.large`). ``task`` clustering or anomaly reads rows
    without a target (``unsupervised`` says which column, if any, scores the models: see
    :mod:`nnvsml.unsupervised.data`).
    """
    if normalize_task(task) in unlabelled.UNSUPERVISED_TASKS:
        dataset = _unsupervised(data, target, normalize_task(task), name, modality, large,
                                unsupervised)
    else:
        if unsupervised.evaluate_with is not None:
            raise InputError("--evaluate-with scores clustering and anomaly runs; pass --task "
                             "clustering or --task anomaly, or --target for a supervised run")
        dataset = _load(data, target, task, name, modality, large, unlabeled)
    # Notices quote column names and labels from the data: an escape sequence in one must show
    # as text, not act on the terminal.
    dataset.notices[:] = [printable(n) for n in dataset.notices]
    return dataset


def _load(data, target, task, name, modality, large: LargeOptions,
          unlabeled: str = "drop") -> Dataset:
    requested_task = normalize_task(task)  # bad options fail before any reading
    requested = normalize_modality(modality)
    notices: list[str] = []
    use = unlabeled == "use"
    if isinstance(data, tuple):
        if use:
            raise _unlabelled_not_here("arrays")
        return _from_arrays(data, target, requested_task, requested, name, notices)
    if isinstance(data, (str, os.PathLike)):
        if use and os.path.isdir(data):
            raise _unlabelled_not_here("a folder")
        layout = detect_layout(data, requested)
        if layout.kind != "table":
            if use:
                raise _unlabelled_not_here(f"a {layout.kind}")
            return _from_layout(layout, str(data), target, requested_task, requested, name, notices)
        planned = plan_rows(data, large.in_memory_rows) if not is_stream(data) else None
        if planned is not None and use:
            raise _unlabelled_not_here("a table read in batches")
        if planned is not None:
            if requested not in (None, "tabular"):
                raise InputError(f"a table read in batches is modelled as a table; drop "
                                 f"--modality {requested} or pass a table that fits in memory")
            return _from_large(*planned, target, requested_task, name or dataset_name(data),
                               str(data), notices, large)
    df, source, default_name = _read_data(data, notices)
    if data is None and target is None:
        target = BUNDLED_TARGET
    return _from_table(df, target, requested_task, requested, name or default_name, source, notices,
                       use)


def _unlabelled_not_here(what: str) -> InputError:
    return InputError(f"--unlabeled use reads a table whose target is empty in the unlabelled "
                      f"rows, not {what}; pass such a table, or drop --unlabeled use")


def _unsupervised(data, target, task, name, modality, large: LargeOptions,
                  options: unlabelled.UnsupervisedOptions) -> Dataset:
    """Rows without a target (see :mod:`nnvsml.unsupervised.data`)."""
    if target is not None:
        raise InputError(f"--target names a column to predict and a {task} run predicts none; "
                         "pass --evaluate-with COLUMN to score the models against a column "
                         "they never see")
    requested = normalize_modality(modality)
    notices: list[str] = []
    if isinstance(data, tuple) or (isinstance(data, (str, os.PathLike)) and detect_layout(
            data, requested).kind != "table"):
        labelled = _load(data, None, "classification", name, modality, large)
        return unlabelled.from_labelled(labelled, task, options)
    if isinstance(data, (str, os.PathLike)) and not is_stream(data) \
            and plan_rows(data, large.in_memory_rows) is not None:
        raise InputError(f"a {task} run holds its rows in memory, and this table is larger "
                         "than the memory set aside for it; pass a sample of the rows")
    df, source, default_name = _read_data(data, notices)
    dataset = unlabelled.table_rows(df, task, options, name=name or default_name,
                                    source=source, notices=notices, modality=requested)
    dataset.notices.extend(column_notices(dataset.columns))
    return dataset


def _from_table(
    df: pd.DataFrame,
    target: str | None,
    requested_task: str | None,
    requested: str | None,
    name: str,
    source: str,
    notices: list[str],
    use_unlabelled: bool = False,
) -> Dataset:
    """A table as a tabular, text or sequence Dataset (detected unless ``requested``)."""
    target = choose_target(list(df.columns), target, notices)
    unlabelled = None
    if use_unlabelled:
        missing = df[target].isna().to_numpy()
        if not missing.any():
            raise InputError(f"--unlabeled use: every row has a '{target}', so there are no "
                             "unlabelled rows to learn from; leave the target empty in the rows "
                             "you have not labelled, or drop --unlabeled use")
        if missing.all():
            drop_missing_target(df, target, notices)  # raises, naming the column
        unlabelled = df.loc[missing].drop(columns=[target]).reset_index(drop=True)
        df = df.loc[~missing]
        notices.append(f"{len(unlabelled):,} of {len(missing):,} rows have no '{target}': the "
                       "semi-supervised candidates learn from them too (never as test rows)")
    df = drop_missing_target(df, target, notices).reset_index(drop=True)
    if len(df) < MIN_ROWS:
        raise InputError(f"too few rows to split ({len(df)}); need at least {MIN_ROWS}")
    X = df.drop(columns=[target])
    columns = infer_columns(X)
    modality = requested
    if modality is None:
        modality, reason = table_modality(X, columns)
        if reason:
            notices.append(
                f"modality: {modality} ({reason}); pass --modality tabular to use the columns as a table"
            )
    if modality in ("image", "audio"):
        raise InputError(
            f"a table cannot be read as {modality}; pass a folder of "
            f"{'images' if modality == 'image' else 'WAV files'} or use --modality tabular, text or sequence"
        )
    if modality != "tabular" and unlabelled is not None:
        raise InputError(f"--unlabeled use works on tables for now, and this one reads as "
                         f"{modality}; pass --modality tabular, or drop --unlabeled use")
    if modality != "tabular":
        _check_task(modality, requested_task)
        build = text_from_table if modality == "text" else series_from_table
        return build(
            X, df[target], columns, name=name, source=source, task=requested_task, notices=notices
        )
    task_name, y, classes = resolve_task(df[target], requested_task, notices)
    if unlabelled is not None and classes is None:
        raise InputError(f"--unlabeled use: the semi-supervised candidates classify, and "
                         f"'{target}' is a {task_name} target; drop --unlabeled use")
    notices.extend(column_notices(columns))
    if not any(c.used for c in columns):
        raise _no_features(columns, target)
    return Dataset(
        name=name,
        X=X,
        y=y,
        target=target,
        task=task_name,
        columns=columns,
        classes=classes,
        notices=notices,
        source=source,
        X_unlabelled=unlabelled,
    )


def _from_large(scan: TableScan, n_memory: int, why: str, target: str | None,
                requested_task: str | None, name: str, source: str, notices: list[str],
                large: LargeOptions) -> Dataset:
    """A table read in batches: the target first, the split from it, then the rows held in
    memory (see :mod:`nnvsml.data.large`)."""
    target = choose_target(scan.names, target, notices)
    y_all = scan.column(target)
    labelled = np.flatnonzero(y_all.notna().to_numpy())
    if len(labelled) == 0:
        drop_missing_target(y_all.to_frame(), target, notices)  # raises, naming the column
    if len(labelled) < len(y_all):
        notices.append(f"dropped {len(y_all) - len(labelled):,} of {len(y_all):,} rows whose "
                       f"target '{target}' is missing")
    task_name, y, classes = resolve_task(y_all.iloc[labelled].reset_index(drop=True),
                                         requested_task, notices)
    del y_all
    y_values = np.asarray(y)
    train, test, sample = draw_rows(y_values, task_name != "regression", n_memory, large)
    held = np.sort(np.concatenate([sample, test]))
    df = scan.rows(labelled[held])
    X = df.drop(columns=[target])
    columns = infer_columns(X)
    notices.extend(column_notices(columns))
    if not any(c.used for c in columns):
        raise _no_features(columns, target)
    y_train = (np.searchsorted(np.asarray(classes, dtype=object), y_values[train]).astype(np.int32)
               if classes is not None else y_values[train].astype(np.float64))
    sampling = {"rows": int(len(labelled)), "rows_in_file": int(scan.n_rows),
                "train_rows": int(len(train)), "test_rows": int(len(test)),
                "sample_rows": int(len(sample)), "in_memory_rows": int(len(held)),
                "batch_rows": BATCH_ROWS, "rule": why,
                "streamed_by": "models that learn from batches train on every training row; "
                               "the others on the stratified sample"}
    notices.append(
        f"{source} is read in batches ({why}): every model is tested on the same "
        f"{len(test):,} stratified test rows; models that learn from batches train on all "
        f"{len(train):,} training rows, the others on a stratified sample of {len(sample):,}")
    return Dataset(
        name=name, X=X, y=y.iloc[held].reset_index(drop=True), target=target, task=task_name,
        columns=columns, classes=classes, notices=notices, source=source,
        split=(np.searchsorted(held, sample), np.searchsorted(held, test)),
        stream={"path": str(scan.path), "columns": list(X.columns),
                "train_positions": labelled[train], "y_train": y_train,
                "memory_positions": labelled[held], "sampling": sampling})


def _from_layout(
    layout: Layout,
    source: str,
    target: str | None,
    requested_task: str | None,
    requested: str | None,
    name: str | None,
    notices: list[str],
) -> Dataset:
    """A folder, an IDX/UCR file or an .npz file through its modality's loader."""
    holds, labels_from = _LAYOUTS[layout.kind]
    if layout.kind == "npz":
        X, y, split = read_npz(layout.path)
        modality = requested or array_modality(X, npz=True)
        _ignored_target(target, labels_from, notices)
        return _array_dataset(
            X,
            y,
            modality,
            requested_task,
            name or dataset_name(layout.path),
            source,
            notices,
            split,
        )
    modality = requested or layout.modality
    # Class folders may hold several kinds of files: the requested modality picks which ones.
    switchable = layout.kind == "class_folders" and modality in FOLDER_SUFFIXES
    if modality != layout.modality and not switchable:
        raise InputError(
            f"{source} holds {holds.format(modality=layout.modality)}, which cannot be read as "
            f"{modality}; drop --modality or pass --modality {layout.modality}"
        )
    _check_task(modality, requested_task)
    _ignored_target(target, labels_from, notices)
    if layout.kind == "idx":
        return load_idx_folder(layout.path, requested_task, name, notices)
    if layout.kind == "ucr":
        return load_ucr(source, requested_task, name, notices)
    return _FOLDER_LOADERS[modality](layout.path, requested_task, name, notices)


def _from_arrays(
    data: tuple,
    target: str | None,
    requested_task: str | None,
    requested: str | None,
    name: str | None,
    notices: list[str],
) -> Dataset:
    """An ``(X, y)`` pair of in-memory arrays (numpy arrays or lists)."""
    if len(data) != 2:
        raise InputError(f"pass in-memory data as a pair (X, y), not a tuple of {len(data)} items")
    X, y = data
    if isinstance(X, pd.DataFrame):
        raise InputError(
            "pass a table as the DataFrame itself, its target a column (--target), not as (X, y)"
        )
    X = np.asarray(X)
    modality = requested or array_modality(X)
    _ignored_target(target, "y", notices)
    return _array_dataset(X, y, modality, requested_task, name or "arrays", "arrays", notices, None)


def _array_dataset(
    X: np.ndarray,
    y,
    modality: str,
    requested_task: str | None,
    name: str,
    source: str,
    notices: list[str],
    split: tuple[np.ndarray, np.ndarray] | None,
) -> Dataset:
    """Arrays of examples in the ``modality``'s layout, with their labels."""
    _check_task(modality, requested_task)
    labels = array_labels(y, len(X))
    if modality == "image":
        X = image_array(X, notices)
        info = image_info(X)
    elif modality == "sequence":
        X, info = series_array(X, notices)
    elif modality == "text":
        if X.ndim != 1:
            raise InputError(f"texts must be a 1-D array of strings, got shape {X.shape}")
        X = as_documents(X, notices)
        info = text_info(X, None)
    elif modality == "tabular":
        return _tabular_arrays(X, labels, requested_task, name, source, notices)
    else:
        raise InputError(
            "audio is read from WAV files: pass a folder of .wav files instead of arrays"
        )
    return labelled_dataset(
        X,
        labels,
        modality=modality,
        name=name,
        source=source,
        task=requested_task,
        notices=notices,
        info=info,
        split=split,
    )


def _tabular_arrays(X, labels, requested_task, name, source, notices) -> Dataset:
    """A 2-D array as a table with columns x0, x1... and the target 'label'."""
    if X.ndim != 2:
        raise InputError(f"a table needs a 2-D array (rows, columns), got shape {X.shape}")
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    df["label"] = labels
    return _from_table(df, "label", requested_task, "tabular", name, source, notices)


def _check_task(modality: str, requested_task: str | None) -> None:
    """Fail before reading much: non-tabular models classify only."""
    if modality != "tabular" and requested_task == "regression":
        raise InputError(
            f"regression is supported on tables only; this is a {modality} dataset: use "
            "--task classification (binary or multiclass)"
        )


def _ignored_target(target: str | None, labels_from: str, notices: list[str]) -> None:
    if target is not None:
        notices.append(f"--target '{target}' is ignored: the labels come from {labels_from}")


def _read_data(data, notices: list[str]) -> tuple[pd.DataFrame, str, str]:
    """``(table, source, default name)`` for each accepted kind of ``data``."""
    if data is None:
        description = BUNDLED[DEFAULT_BUNDLED]
        notices.append(f"no data given: using the bundled dataset {DEFAULT_BUNDLED}, {description}")
        return load_bundled(DEFAULT_BUNDLED), f"bundled:{DEFAULT_BUNDLED}", DEFAULT_BUNDLED
    if isinstance(data, (str, os.PathLike)):
        source = "stdin" if str(data) == STDIN else str(data)
        return read_table(data, notices), source, dataset_name(data)
    if isinstance(data, pd.DataFrame):
        return _checked_frame(data), "dataframe", "dataframe"
    raise InputError(
        "data must be a path to a CSV/TSV/Parquet file or a pandas DataFrame (or a data folder, "
        f"an .npz file, or an (X, y) pair of arrays), not {type(data).__name__}"
    )


def _checked_frame(df: pd.DataFrame) -> pd.DataFrame:
    if df.shape[1] == 0 or len(df) == 0:
        raise InputError(
            f"the DataFrame is empty ({len(df)} rows, {df.shape[1]} columns); pass a table with data"
        )
    df = df.copy()
    df.columns = [str(c) for c in df.columns]  # kinds and pipelines address columns by name
    duplicates = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if duplicates:
        raise InputError(
            f"duplicate column names: {shorten_names(duplicates)}; rename them so each is unique"
        )
    return df


def _no_features(columns: list[ColumnInfo], target: str) -> InputError:
    if not columns:
        return InputError(
            f"the table has no column besides the target '{target}'; add feature columns"
        )
    dropped = "; ".join(f"{c.name}: {c.kind}" for c in columns[:MAX_NAMES_SHOWN])
    more = f"; ... ({len(columns)} in all)" if len(columns) > MAX_NAMES_SHOWN else ""
    hint = (
        " (or pass --modality text to model the free text)"
        if any(c.kind == "text" for c in columns)
        else ""
    )
    return InputError(
        f"no usable feature column: every column besides the target '{target}' was dropped "
        f"({dropped}{more}); add feature columns or choose another --target{hint}"
    )


def dataset_name(path: str | os.PathLike) -> str:
    """The file name without data suffixes: ``data/adult.tsv.gz`` -> ``adult``; ``-``: ``stdin``."""
    if str(path) == STDIN:
        return "stdin"
    stem = Path(path).name
    while Path(stem).suffix.lower() in _NAME_SUFFIXES:
        stem = stem[: -len(Path(stem).suffix)]
    return stem or Path(path).name


def column_notices(columns: list[ColumnInfo]) -> list[str]:
    """One notice per kind of dropped column, naming them, plus one per number-as-text column."""
    notices = []
    for kind, label in _DROPPED.items():
        names = [c.name for c in columns if c.kind == kind]
        if names:
            notices.append(f"dropped {len(names)} {label} column(s): {shorten_names(names)}")
    for c in columns:
        if c.kind == "numeric" and "become missing" in c.note:
            notices.append(f"column '{c.name}': {c.note}")
        notices.extend(f"column '{c.name}': {notice}" for notice in c.notices)
    return notices
