"""Candidate models. Importing this package registers every built-in candidate."""

from nnvsml.models import networks, traditional  # noqa: F401  (registration side effects)
from nnvsml.models.registry import FAMILIES, REGISTRY, BuildContext, Candidate, get, register, select

__all__ = ["FAMILIES", "REGISTRY", "BuildContext", "Candidate", "get", "register", "select"]
