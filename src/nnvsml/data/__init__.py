"""Loading users' data: tables, images, texts, time series and audio, detected or chosen.

Tables go through column and task inference; other modalities are read into one array layout
each (see ``nnvsml.data.dataset.MODALITIES``).
"""

from nnvsml.data.audio import load_audio_folder, log_mel, mel_filterbank
from nnvsml.data.columns import TabularPreparer, infer_columns, prepared_kinds
from nnvsml.data.dataset import ColumnInfo, Dataset
from nnvsml.data.detect import array_modality, detect_modality, table_modality
from nnvsml.data.images import load_idx_folder, load_image_folder
from nnvsml.data.load import load_dataset
from nnvsml.data.readers import read_table
from nnvsml.data.series import load_ucr
from nnvsml.data.text import load_text_folder

__all__ = [
    "ColumnInfo",
    "Dataset",
    "TabularPreparer",
    "array_modality",
    "detect_modality",
    "infer_columns",
    "load_audio_folder",
    "load_dataset",
    "load_idx_folder",
    "load_image_folder",
    "load_text_folder",
    "load_ucr",
    "log_mel",
    "mel_filterbank",
    "prepared_kinds",
    "read_table",
    "table_modality",
]
