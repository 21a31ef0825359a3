"""Loading users' tables: reading files, inferring column kinds and the task, preparing columns."""

from nnvsml.data.columns import TabularPreparer, infer_columns, prepared_kinds
from nnvsml.data.dataset import ColumnInfo, Dataset
from nnvsml.data.load import load_dataset
from nnvsml.data.readers import read_table

__all__ = [
    "ColumnInfo",
    "Dataset",
    "TabularPreparer",
    "infer_columns",
    "load_dataset",
    "prepared_kinds",
    "read_table",
]
