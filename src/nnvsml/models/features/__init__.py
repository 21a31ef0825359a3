"""Feature extraction for traditional models on images, time series and audio.

Each extractor is a scikit-learn transformer that takes nnvsml's raw layout of its modality
(see :mod:`nnvsml.data.dataset`) and returns a feature matrix, so a candidate is one Pipeline
from raw data to prediction and the features are learned on the training rows of each fit only.
Text needs no module here: scikit-learn's TF-IDF vectorisers take the documents as they are.
"""

from nnvsml.models.features.audio import MFCCStats
from nnvsml.models.features.images import HOG, Pixels
from nnvsml.models.features.series import DTWNeighbors, Rocket, SummaryFeatures

__all__ = ["HOG", "DTWNeighbors", "MFCCStats", "Pixels", "Rocket", "SummaryFeatures"]
