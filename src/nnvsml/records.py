"""Typed views of the blocks of results.json: a model entry, its costs, an evidence block and the
verdict.

Each class reads a block with ``from_dict`` and writes it back with ``to_dict`` in the shape
results.json has always had (the same keys, in the same order), so code can hold typed objects
while the file stays as it is. ``from_dict`` is tolerant: a missing optional key takes its
default, and a key the class does not know is kept in ``extra`` and written back after the known
ones, so a round trip loses nothing. The file's full description is the JSON Schema in
``nnvsml/schema/results.schema.json``.

Example
-------
>>> entry = ModelEntry.from_dict({"name": "knn", "family": "traditional", "status": "skipped",
...                               "reason": "budget exhausted", "colour": "blue"})
>>> entry.cost.fit_seconds is None, entry.extra
(True, {'colour': 'blue'})
>>> ModelEntry.from_dict(entry.to_dict()) == entry
True
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

#: The costs every entry carries (DESIGN.md's contract and cpu_seconds), None where not
#: measured.
COST_KEYS = ("fit_seconds", "cpu_seconds", "predict_ms_per_1k", "peak_memory_mb", "model_size_kb")


def _split(d: dict, known: tuple[str, ...]) -> tuple[dict, dict]:
    """(the keys of ``known`` present in ``d``, everything else), each in ``d``'s order."""
    return ({k: v for k, v in d.items() if k in known},
            {k: v for k, v in d.items() if k not in known})


def _names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name != "extra")


def _require(cls, d: dict, keys: tuple[str, ...]) -> None:
    missing = [k for k in keys if k not in d]
    if missing:
        raise ValueError(f"{cls.__name__} needs {', '.join(map(repr, missing))}; "
                         f"the block has {', '.join(map(repr, d)) or 'no keys'}")


@dataclass
class Cost:
    """What a model cost: the figures of :data:`COST_KEYS` (always written, None where not
    measured), those measured besides them (written when measured), and the candidate's wall
    seconds."""

    fit_seconds: float | None = None
    cpu_seconds: float | None = None
    predict_ms_per_1k: float | None = None
    peak_memory_mb: float | None = None
    model_size_kb: float | None = None
    predict_cpu_ms_per_1k: float | None = None
    latency_ms: float | None = None
    cv_seconds: float | None = None
    wall_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _OPTIONAL = ("predict_cpu_ms_per_1k", "latency_ms", "cv_seconds")

    @classmethod
    def from_dict(cls, d: dict | None) -> Cost:
        known, extra = _split(d or {}, _names(cls))
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in COST_KEYS}
        out.update({k: getattr(self, k) for k in self._OPTIONAL if getattr(self, k) is not None})
        out.update(self.extra)
        out["wall_seconds"] = self.wall_seconds
        return out


@dataclass
class ModelEntry:
    """One candidate's row of ``results["models"]``, whatever happened to it.

    ``test`` maps metric -> value (None where undefined), ``test_ci`` metric -> ``{"low",
    "high"}`` or None, ``cv`` and ``cv_train`` metric -> ``{"mean", "std", "folds"}``.
    ``evaluation`` (how the scores were obtained) and ``validation_blocks`` (metric -> one score
    per validation block) are written only when set.
    """

    name: str
    family: str
    status: str
    reason: str | None = None
    description: str | None = None
    explanations: list[str] = field(default_factory=list)
    time_limit_seconds: float | None = None
    test: dict[str, float | None] = field(default_factory=dict)
    test_ci: dict[str, dict | None] = field(default_factory=dict)
    cv: dict[str, dict] = field(default_factory=dict)
    cv_train: dict[str, dict] = field(default_factory=dict)
    cost: Cost = field(default_factory=Cost)
    params: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] | None = None
    tuning: dict[str, Any] | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    evaluation: dict[str, Any] | None = None
    validation_blocks: dict[str, list[float | None]] | None = None
    #: Each file format of the model beyond its pickle: status, why not, parity.
    formats: dict[str, dict] | None = None
    #: A semi-supervised model's supervised twin (the same model on the labelled rows alone)
    #: and the unlabelled rows it learnt from.
    semi_supervised: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _OPTIONAL = ("evaluation", "validation_blocks", "formats", "semi_supervised")

    @classmethod
    def from_dict(cls, d: dict) -> ModelEntry:
        _require(cls, d, ("name", "family", "status"))
        known, extra = _split(d, _names(cls))
        known["cost"] = Cost.from_dict(known.get("cost"))
        if "explanations" in known:
            known["explanations"] = list(known["explanations"] or ())
        for key in ("test", "test_ci", "cv", "cv_train", "params", "artifacts"):
            if key in known and known[key] is None:
                known[key] = {}
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        out = {}
        for name in _names(type(self)):
            value = getattr(self, name)
            if name in self._OPTIONAL and value is None:
                continue
            out[name] = value.to_dict() if isinstance(value, Cost) else value
        out.update(self.extra)
        return out


@dataclass
class EvidenceBlock:
    """One analysis's block of ``results["evidence"]``: its ``status`` ("ok" | "failed" |
    "timeout" | "skipped"), ``reason`` and ``seconds``, and what it measured (``payload``, every
    other key, as the analysis wrote it). The block's key order is kept."""

    status: str
    reason: str | None = None
    seconds: float | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    #: The keys in the order they were read; None: status, reason, seconds, then the payload.
    order: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

    _HEAD = ("status", "reason", "seconds")

    @classmethod
    def from_dict(cls, d: dict) -> EvidenceBlock:
        _require(cls, d, ("status",))
        head, payload = _split(d, cls._HEAD)
        return cls(status=head["status"], reason=head.get("reason"),
                   seconds=head.get("seconds"), payload=payload, order=tuple(d))

    def to_dict(self) -> dict:
        items = {"status": self.status, "reason": self.reason, "seconds": self.seconds,
                 **self.payload}
        order = [k for k in (self.order or ()) if k in items]
        return {k: items[k] for k in [*order, *(k for k in items if k not in order)]}


@dataclass
class Verdict:
    """``results["verdict"]`` (see :func:`nnvsml.verdict.decide`): the recommended ``family``
    ("traditional" | "neural" | "tie") and ``model`` (None when undecided), the ``reasons`` in
    sentences, and the rest of what the verdict measured and weighed."""

    family: str
    model: str | None = None
    decided: bool | None = None
    priority: str | None = None
    constraints: dict[str, Any] = field(default_factory=dict)
    comparison: dict[str, Any] | None = None
    reasons: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    excluded: list[dict] = field(default_factory=list)
    would_change: list[str] = field(default_factory=list)
    key_differences: list[dict] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        _require(cls, d, ("family",))
        known, extra = _split(d, _names(cls))
        if "constraints" in known and known["constraints"] is None:
            known["constraints"] = {}
        for key in ("reasons", "facts", "excluded", "would_change", "key_differences"):
            if key in known:
                known[key] = list(known[key] or ())
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        out = {name: getattr(self, name) for name in _names(type(self))}
        out.update(self.extra)
        return out
