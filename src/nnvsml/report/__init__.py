"""The HTML report of a run directory: one self-contained page, read top to bottom.

Verdict first, then the key differences, the leaderboard, and one section per claimed
difference between the families (GUIDE.md), each with the claim it tests. Plots are PNGs
embedded as data URIs and the CSS is inline, so the file opens offline, needs no JavaScript,
and can be mailed as it is. The report only reads: it never retrains and never unpickles.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from nnvsml.report import analyses, diagnostics, semi_supervised, summary, unsupervised
from nnvsml.report.load import Run
from nnvsml.results import atomic_write_text

__all__ = ["SECTIONS", "build_report", "render_report"]

TEMPLATES = Path(__file__).parent / "templates"
REPORT_NAME = "report.html"

#: Every section the report can draw, by id. The task's spec (``report_sections``, see
#: :mod:`nnvsml.tasks`) says which of them its report shows, in page order.
SECTIONS = {build.section_id: build for build in (
    summary.key_differences,
    summary.leaderboard_section,
    summary.pareto,
    analyses.learning_curve,
    analyses.data_quality,
    analyses.overfitting,
    diagnostics.confusion_roc,
    diagnostics.residuals,
    unsupervised.clusters,
    unsupervised.anomalies,
    semi_supervised.unlabelled,
    analyses.explanations,
    analyses.gradients,
    analyses.energy,
    analyses.deployability,
    analyses.tuning,
)}


def build_report(run_dir: str | Path) -> Path:
    """Write ``RUN_DIR/report.html`` from its results.json and predictions; return its path.

    Works on a finished run as well as on one still running or interrupted, with or without
    evidence. Raises :class:`nnvsml.errors.InputError` when ``run_dir`` holds no readable
    results.json.

    >>> import json, tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = (run / "results.json").write_text(json.dumps({"status": "running",
    ...     "dataset": {"name": "demo", "task": "binary"},
    ...     "protocol": {"primary_metric": "accuracy"}, "models": []}))
    >>> build_report(run).name
    'report.html'
    """
    run_dir = Path(run_dir)
    html = render_report(run_dir)
    path = run_dir / REPORT_NAME
    atomic_write_text(path, html)
    return path


def render_report(run_dir: str | Path) -> str:
    """The report of ``run_dir`` as an HTML string (nothing written)."""
    run = Run(Path(run_dir))
    names = list(run.spec.report_sections)
    if run.results.get("semi_supervised") and "leaderboard" in names:
        names.insert(names.index("leaderboard") + 1, "unlabelled")
    sections = [SECTIONS[name](run) for name in names]
    return _environment().get_template("report.html.j2").render(
        header=summary.header(run), verdict=summary.verdict(run), sections=sections)


def _environment() -> Environment:
    # Autoescape on: model, feature and class names come from the user's data.
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
