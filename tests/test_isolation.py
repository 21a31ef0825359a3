"""A crash, a hang, a memory hog and a segfault are recorded with their reasons; the run goes on."""

from __future__ import annotations

import json

import faulty
import nnvsml


def test_misbehaving_models_are_recorded_and_the_run_goes_on(tmp_path, cancer_df):
    out = tmp_path / "run"
    result = nnvsml.compare(
        cancer_df, target="diagnosis", budget=40, out=out, max_memory_mb=600,
        models=[faulty.CRASH, faulty.HANG, faulty.MEMORY, faulty.SEGFAULT, "logistic_regression"],
        analyses="none", report=False)
    models = {m["name"]: m for m in json.loads((out / "results.json").read_text())["models"]}

    assert models["crash"]["status"] == "failed"
    assert "boom: this model always fails" in models["crash"]["reason"]
    assert models["hang"]["status"] == "timeout"
    assert "time limit" in models["hang"]["reason"]
    assert models["memory_hog"]["status"] == "failed"
    assert "out of memory" in models["memory_hog"]["reason"]
    assert models["segfault"]["status"] == "failed"
    assert "SIGSEGV" in models["segfault"]["reason"]

    good = models["logistic_regression"]
    assert good["status"] == "ok"
    assert good["test"]["accuracy"] > 0.93
    # The one finished model is the verdict's only evidence, and it says so.
    assert result.verdict["model"] == "logistic_regression"
    assert "no neural model finished" in result.verdict["reasons"][0]
    # The hang was stopped at its limit, not left to eat the budget.
    assert models["hang"]["cost"]["wall_seconds"] < models["hang"]["time_limit_seconds"] + 2
