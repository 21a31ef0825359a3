"""Candidate models. Importing this package registers every built-in candidate."""

# Registration side effects. Tables: traditional.py and networks.py. Images, text, sequences and
# audio: the traditional models with their features in image.py, text.py, sequence.py and
# audio.py, the networks in array_networks.py. Clustering and anomaly detection, every modality:
# unsupervised.py and unsupervised_networks.py. Tables with unlabelled rows: semi_supervised.py.
from nnvsml.models import (  # noqa: F401
    array_networks,
    audio,
    image,
    networks,
    semi_supervised,
    sequence,
    text,
    traditional,
    unsupervised,
    unsupervised_networks,
)
from nnvsml.models.registry import FAMILIES, REGISTRY, BuildContext, Candidate, get, register, select

__all__ = ["FAMILIES", "REGISTRY", "BuildContext", "Candidate", "get", "register", "select"]
