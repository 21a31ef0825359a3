"""Data shipped with the package, so ``nnvsml`` runs with no data of the user's own."""

from __future__ import annotations

from importlib import resources

import pandas as pd

from nnvsml.data.readers import read_table
from nnvsml.errors import InputError

DEFAULT_BUNDLED = "adult_sample"
#: The target column of the default bundled dataset.
BUNDLED_TARGET = "income"
#: Bundled datasets: name -> one-line description (see ``bundled/README.md``).
BUNDLED = {
    "adult_sample": "a 6,000-row stratified sample of the UCI Adult census data (is income >50K?)",
}


def load_bundled(name: str = DEFAULT_BUNDLED) -> pd.DataFrame:
    """Read the bundled dataset ``name`` (a table whose target column is :data:`BUNDLED_TARGET`)."""
    if name not in BUNDLED:
        raise InputError(f"unknown bundled dataset '{name}'; available: {', '.join(BUNDLED)}")
    resource = resources.files("nnvsml.data") / "bundled" / f"{name}.csv.gz"
    # as_file gives a real path even when the package is installed as a zip archive.
    with resources.as_file(resource) as path:
        return read_table(path)
