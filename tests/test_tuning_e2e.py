"""Tuning through the whole run: reproducible under --trials, the results.json additions, a
killed run that resumes its studies, a shared PostgreSQL storage, and bad options."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

import nnvsml
from nnvsml.cli import main

MODELS = ["logistic_regression", "lightgbm", "mlp"]
#: Keys that hold seconds, clock readings or paths: all that may differ between two runs.
TIMING = {"cost", "time_limit_seconds", "seconds", "history", "created", "updated", "budget",
          "budget_spent", "wall_seconds", "curve", "reasons", "training", "report",
          # the verdict's sentences and table quote costs (seconds, latency) too
          "facts", "would_change", "key_differences",
          # a network's file holds its epochs' durations
          "model_sha256",
          # which the signature of the files covers
          "signature"}


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def test_same_seed_and_trials_give_the_same_results(tmp_path, cancer_df):
    runs = [nnvsml.compare(cancer_df, target="diagnosis", out=tmp_path / f"run{i}", seed=3,
                           cv_folds=3, models=MODELS, search="bayesian", trials=2,
                           analyses="none", report=False)
            for i in (1, 2)]
    first, second = (r.results for r in runs)
    assert first["protocol"]["budget_rule"] == "equal_trials"
    assert first["protocol"]["budget_seconds"] is None
    for m in first["models"]:
        assert m["status"] == "ok", (m["name"], m["reason"])
        assert m["tuning"]["trials"] == 2 and m["tuning"]["strategy"] == "bayesian"
        # A network trained without a clock stops by early stopping or its epoch cap.
        if m["family"] == "neural":
            assert m["training"]["stopped_by"] in ("early_stopping", "max_epochs")
    for m in first["models"] + second["models"]:
        # Files named by their digests, which cover a network's epoch durations (see TIMING);
        # the predictions must be the same bytes.
        m["artifacts"] = {"predictions_sha256": m["artifacts"]["predictions_sha256"]}
    assert _strip(first) == _strip(second)
    # The epochs a network trained are not a timing under --trials: they repeat too.
    mlp = [{k: m["training"][k] for k in ("n_epochs", "best_epoch")}
           for r in (first, second) for m in r["models"] if m["name"] == "mlp"]
    assert mlp[0] == mlp[1]


def test_results_carry_tuning_uncertainty_and_the_comparison(tmp_path, cancer_df):
    result = nnvsml.compare(cancer_df, target="diagnosis", out=tmp_path / "run", seed=0,
                            cv_folds=3, models=["logistic_regression", "mlp"], budget=40,
                            search="random", analyses="none", report=False)
    r = result.results
    assert set(r["protocol"]["budget_spent"]) == {"traditional", "neural"}
    by_family = r["protocol"]["budget"]["by_family"]
    for family, spent in by_family.items():
        assert spent["planned"] > 0 and spent["spent"] <= spent["planned"] + 5
        assert spent["tuning"] <= spent["spent"]
    tuned = set()
    for m in r["models"]:
        t = m["tuning"]
        assert {"strategy", "trials", "seconds", "best_params", "history"} <= set(t)
        if m["name"] == "mlp" and t["strategy"] == "none":
            # The network's share is about 13 s: on a busy machine its first fit can say that
            # five trials would not fit beside its folds. It then trains untuned and says why.
            assert "fewer than 5 trials" in t["reason"] and m["evaluation"]["folds"] == 3
        else:
            assert t["strategy"] == "random" and t["trials"] >= 1, (m["name"], t.get("reason"))
            tuned.add(m["family"])
        assert all(len(point) == 2 for point in t["history"])
        lo, hi = m["test_ci"]["accuracy"]["low"], m["test_ci"]["accuracy"]["high"]
        assert lo <= m["test"]["accuracy"] <= hi
    cmp = r["verdict"]["comparison"]
    assert {"metric", "traditional", "neural", "difference", "ci_low", "ci_high", "p_value",
            "test"} <= set(cmp)
    assert cmp["ci_low"] <= cmp["difference"] <= cmp["ci_high"]
    rows = cmp["test_rows"]
    assert rows["test"].startswith("McNemar") and 0 <= rows["p_value"] <= 1
    assert isinstance(rows["agrees"], bool)
    effort = r["tuning_effort"]["families"]
    assert "traditional" in tuned and set(effort) == tuned
    assert all(len(f["curve"]) == 11 and f["curve"][-1][1] >= 0 for f in effort.values())
    assert any("Tuning (random)" in reason for reason in r["verdict"]["reasons"])


def _studies(db: Path) -> dict[str, int]:
    """Finished trials per study, read without writing (the run owns the file)."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            rows = con.execute(
                "SELECT s.study_name, COUNT(t.trial_id) FROM studies s JOIN trials t "
                "ON t.study_id = s.study_id WHERE t.state != 'RUNNING' GROUP BY s.study_name")
            return {name.split(":")[-1]: n for name, n in rows}
    except sqlite3.Error:
        return {}


def test_a_killed_run_resumes_its_studies(tmp_path, cancer_csv):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "nnvsml", "compare", str(cancer_csv), "--target", "diagnosis",
           "--out", str(out), "--quiet", "--cv-folds", "3", "--search", "random", "--trials",
           "12", "--models", "naive_bayes,svm", "--analyses", "none", "--no-report"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while _studies(out / "tuning.db").get("svm", 0) < 4 and time.monotonic() < deadline \
            and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _studies(out / "tuning.db")["svm"]

    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    models = {m["name"]: m for m in json.loads((out / "results.json").read_text())["models"]}
    svm = models["svm"]["tuning"]
    # The trials finished before the kill were kept: only the rest ran.
    assert svm["trials"] == 12
    assert _studies(out / "tuning.db")["svm"] <= 12 + 1  # at most the one cut short
    assert before >= 4


@pytest.mark.parametrize("args, fragment", [
    (["--search", "gridd"], "unknown --search strategy 'gridd'; did you mean 'grid'?"),
    (["--trials", "0"], "--trials must be a whole number of at least 1"),
    (["--trials", "3", "--search", "none"], "--trials counts tuning trials, but --search is none"),
    (["--storage", "not-a-url"], "--storage must be a database URL"),
    (["--storage", "postgresql+psycopg://nobody@127.0.0.1:9/none"],
     "cannot open the tuning storage postgresql+psycopg://nobody@127.0.0.1:9/none"),
])
def test_bad_tuning_options_exit_2_with_one_line(capsys, tmp_path, cancer_csv, args, fragment):
    try:
        main(["compare", str(cancer_csv), "--target", "diagnosis", "--out", str(tmp_path / "r"),
              "--models", "naive_bayes", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnvsml: error: "), err
    assert fragment in lines[0]


# --- a shared PostgreSQL storage ----------------------------------------------------------------

def test_studies_in_a_shared_postgresql_database(tmp_path, cancer_df, postgres):
    kwargs = dict(target="diagnosis", seed=0, cv_folds=3, models=["logistic_regression", "knn"],
                  search="bayesian", trials=2, storage=postgres)
    first = nnvsml.compare(cancer_df, out=tmp_path / "a", **kwargs, analyses="none", report=False)
    studies = {s.study_name: s.n_trials
               for s in optuna.get_all_study_summaries(optuna.storages.RDBStorage(postgres))}
    assert sorted(n.split(":")[-1] for n in studies) == ["knn", "logistic_regression"]
    assert set(studies.values()) == {2}
    assert not (tmp_path / "a" / "tuning.db").exists()
    assert first.results["protocol"]["tuning_storage"].startswith("postgresql+psycopg://nnvsml@")
    # A second machine (here: another run directory) with the same data and protocol shares
    # the studies: it finds their trials done and adds none.
    second = nnvsml.compare(cancer_df, out=tmp_path / "b", **kwargs, analyses="none", report=False)
    studies = {s.study_name: s.n_trials
               for s in optuna.get_all_study_summaries(optuna.storages.RDBStorage(postgres))}
    assert set(studies.values()) == {2}
    assert [m["tuning"]["best_params"] for m in second.results["models"]] == \
        [m["tuning"]["best_params"] for m in first.results["models"]]
