"""A run killed with SIGKILL and started again with the same command keeps every finished
result and completes: a model whose protocol was complete is untouched, and a model that had only
its first (anytime) result is never fitted for that result again: at most its second stage runs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def finished(out: Path) -> list[dict]:
    try:
        r = json.loads((out / "results.json").read_text())
    except (OSError, ValueError):
        return []
    return [m for m in r["models"] if m["status"] == "ok"]


def _without_note(entry: dict) -> dict:
    evaluation = {k: v for k, v in entry["evaluation"].items() if k != "second_stage"}
    return {**entry, "evaluation": evaluation}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sigkilled_run_resumes_without_retraining(tmp_path, cancer_csv):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "nnvsml", "compare", str(cancer_csv), "--target", "diagnosis",
           "--out", str(out), "--budget", "120", "--quiet", "--search", "none",
           "--models", "naive_bayes,decision_tree,logistic_regression,mlp",
           "--analyses", "none", "--no-report"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while len(finished(out)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    before = {m["name"]: m for m in finished(out)}
    assert len(before) >= 2
    hashes = {n: digest(out / m["artifacts"]["model"]) for n, m in before.items()}
    assert json.loads((out / "results.json").read_text())["status"] == "running"

    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    after = json.loads((out / "results.json").read_text())
    assert after["status"] == "complete"
    models = {m["name"]: m for m in after["models"]}
    assert set(models) == {"naive_bayes", "decision_tree", "logistic_regression", "mlp"}
    assert all(m["status"] == "ok" for m in models.values())
    for name, entry in before.items():
        stage = entry["evaluation"]["stage"]
        now = models[name]
        if stage == "improve" or now["evaluation"]["stage"] == stage:
            # Untouched, but for the note of what became of a second stage that was not run.
            assert _without_note(now) == _without_note(entry), f"{name} changed on resume"
            assert digest(out / entry["artifacts"]["model"]) == hashes[name], f"{name} was retrained"
        else:  # its first result was kept and its second stage ran in the resumed invocation
            assert stage == "secure" and now["evaluation"]["stage"] in ("again", "improve")
    # A model that had its first result before the kill never fitted it again.
    for name in before:
        assert (out / "logs" / f"{name}.log").read_text().count("stage secure:") == 1, name
    assert after["verdict"]["model"] in models
