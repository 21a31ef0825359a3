"""What runs inside an analysis's own process: load the prepared rows, rebuild the two models'
specs, run the analysis, send its block back (and partial blocks as it goes)."""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np

from nnvsml import timing
from nnvsml.evidence.context import AnalysisContext, Subject
from nnvsml.models import Candidate
from nnvsml.protocol.worker import run_logged


#: Analyses that refit the network (the others read results or explain the saved model).
REFITS_NETWORK = {"learning_curve", "data_quality", "overfitting", "gradients"}


@dataclass(frozen=True)
class AnalysisJob:
    analysis: str
    run_dir: str
    data_path: str
    #: family -> (Candidate, its entry in results.json)
    subjects: dict[str, tuple[Candidate, dict]]
    time_limit: float
    seed: int
    timed: bool = True

    @property
    def name(self) -> str:
        return f"evidence-{self.analysis}"


def main(job: AnalysisJob, conn) -> None:
    start = time.monotonic()

    def work() -> dict:
        ctx = make_context(job, start, lambda kind, payload: conn.send((kind, payload)))
        if job.analysis in REFITS_NETWORK:
            ctx.progress("warming up")
            ctx.warm_up()
        return importlib.import_module(f"nnvsml.evidence.{job.analysis}").run(ctx)

    run_logged(Path(job.run_dir) / "logs" / f"{job.name}.log", conn, work)


def make_context(job: AnalysisJob, start: float, send) -> AnalysisContext:
    data = joblib.load(job.data_path)
    train_rows, eval_rows = data["folds"][0]
    # A margin for the last epoch's overshoot and for sending the block back: the analysis
    # plans to end before its process is cut.
    deadline = timing.analysis_plan(job.time_limit, start).deadline \
        if job.timed and job.time_limit != float("inf") else None
    return AnalysisContext(
        X=data["X"], y=np.asarray(data["y"]), task=data["task"], classes=data["classes"],
        kinds=data["kinds"], modality=data.get("modality", "tabular"),
        info=data.get("info") or {}, metric=data["metric"], seed=job.seed,
        train_rows=np.asarray(train_rows), eval_rows=np.asarray(eval_rows),
        n_train=len(data["train_idx"]),
        subjects={f: Subject(f, c, e) for f, (c, e) in job.subjects.items()},
        deadline=deadline, timed=job.timed, run_dir=job.run_dir, send=send,
        space=data.get("space"))
