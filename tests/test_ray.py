"""The Ray executor on a real two-node Ray cluster started by the test (a head and a second
worker node of two CPUs each, separate processes of ``ray start`` on this machine, behind a
random token): the same comparison as the local executor under --trials, a runner killed
mid-run, and tuning helpers on the CPUs beyond the two lanes."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

import nnvsml

# Not imported here: Ray reads its authentication settings when it is first imported, and the
# cluster's token only exists once the fixture has started it.
if importlib.util.find_spec("ray") is None:
    pytest.skip("the ray extra is not installed", allow_module_level=True)

MODELS = ["logistic_regression", "mlp"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ray_bin = Path(sys.executable).with_name("ray")
    # Ray's sockets live under its temp folder, whose path must stay short (108 bytes).
    temp = Path(f"/tmp/nnvsml-ray-{secrets.token_hex(4)}")
    port = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--num-cpus=2", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    try:
        subprocess.run([str(ray_bin), "start", "--head", f"--port={port}",
                        "--include-dashboard=false", f"--temp-dir={temp}", *common],
                       env=env, check=True, capture_output=True, timeout=120)
        subprocess.run([str(ray_bin), "start", f"--address=127.0.0.1:{port}", *common],
                       env=env, check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        subprocess.run([str(ray_bin), "stop", "--force"], env=env, capture_output=True)
        pytest.skip(f"Ray could not start here: {getattr(exc, 'stderr', b'')[-300:]!r}")
    old = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=env["RAY_AUTH_TOKEN"])
    try:
        yield f"127.0.0.1:{port}"
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        subprocess.run([str(ray_bin), "stop", "--force"], env=env, capture_output=True,
                       timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def _compare(data, out, **options):
    return nnvsml.compare(str(data), target="diagnosis", out=out, models=MODELS, trials=2,
                          search="random", analyses="none", report=False, seed=0, **options)


def test_a_two_node_cluster_gives_the_local_executors_results(cluster, cancer_csv, tmp_path):
    on_ray = _compare(cancer_csv, tmp_path / "ray", executor="ray", ray_address=cluster)
    local = _compare(cancer_csv, tmp_path / "local")
    where = on_ray.results["protocol"]["executor"]
    assert where["executor"] == "ray" and where["address"] == cluster
    assert len(where["nodes"]) == 2 and all(n["cpus"] == 2 for n in where["nodes"])
    assert local.results["protocol"]["executor"]["executor"] == "local"
    for a, b in zip(on_ray.results["models"], local.results["models"]):
        assert a["name"] == b["name"] and a["status"] == b["status"] == "ok"
        assert a["tuning"]["best_params"] == b["tuning"]["best_params"]
        # The same fits; a network's sums may run on another number of threads on a node of
        # one CPU, so its probabilities agree to float rounding, not bit for bit.
        assert a["test"] == pytest.approx(b["test"], rel=1e-4, abs=1e-6)
        # Under --trials no helper tunes beside a candidate: the same trials on any executor.
        assert a["tuning"]["workers"] == 1
        assert a["cost"]["host"]
        assert a["cost"]["node"] in {n["node"] for n in where["nodes"]}
    assert on_ray.verdict["model"] == local.verdict["model"]
    # The two families ran side by side, each in its own lane, on the two nodes.
    assert on_ray.results["protocol"]["budget"]["lanes"] == 2 and where["lanes"] == 4
    assert where["tuning_helpers_per_lane"] == 1
    assert local.results["protocol"]["budget"]["lanes"] == 1
    assert len({m["cost"]["node"] for m in on_ray.results["models"]}) == 2


def _compare_acting_when(log, act, data, out, **options):
    """_compare, with ``act()`` run once (in a thread) as soon as ``log`` exists; whether it
    ran, and the comparison's result."""
    acted = []

    def watch():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not acted:
            if log.exists():
                act()
                acted.append(True)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    result = _compare(data, out, **options)
    watcher.join()
    return bool(acted), result


def test_the_nodes_read_the_data_from_the_object_store_not_the_drivers_file(cluster, cancer_csv,
                                                                             tmp_path):
    # The driver's data file is deleted once the first model's work was sent: every later
    # stage and model still runs, from the copy the object store brought to its node.
    out = tmp_path / "run"
    deleted, result = _compare_acting_when(
        out / "logs" / f"{MODELS[0]}.log", (out / ".cache" / "data.joblib").unlink,
        cancer_csv, out, executor="ray", ray_address=cluster)
    assert deleted
    assert {m["name"]: m["status"] for m in result.results["models"]} == {
        name: "ok" for name in MODELS}
    assert "object store" in result.results["protocol"]["executor"]["data"]


def test_a_runner_killed_mid_run_is_recorded_and_the_run_resumes(cluster, cancer_csv, tmp_path):
    out = tmp_path / "run"

    def kill_the_runner():
        # The runner of the network's lane: the one above the process writing mlp.log (the
        # other family's lane, running beside it, goes on).
        log = str(out / "logs" / "mlp.log")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for p in psutil.process_iter():
                try:
                    if any(f.path == log for f in p.open_files()):
                        for a in [p, *p.parents()]:  # the work, its process server, the actor
                            if "_Runner" in " ".join(a.cmdline()):
                                a.kill()
                        return
                except psutil.Error:
                    continue
            time.sleep(0.05)

    killed, first = _compare_acting_when(out / "logs" / "mlp.log", kill_the_runner, cancer_csv,
                                         out, executor="ray", ray_address=cluster)
    assert killed
    entries = {m["name"]: m for m in first.results["models"]}
    assert entries["logistic_regression"]["status"] == "ok"
    assert entries["mlp"]["status"] == "failed"
    assert "Ray worker running it died" in entries["mlp"]["reason"]
    again = _compare(cancer_csv, out, executor="ray", ray_address=cluster, retry_failed=True)
    assert {m["name"]: m["status"] for m in again.results["models"]} == {
        "logistic_regression": "ok", "mlp": "ok"}
    saved = json.loads((out / "results.json").read_text())
    assert saved["status"] == "complete"


def test_helpers_on_the_spare_cpus_tune_each_candidates_study_beside_it(cluster, cancer_csv,
                                                                       tmp_path):
    """Four CPUs, two lanes: each family's lane gets one helper, which runs trials of its
    candidate's study while the candidate tunes (under a wall-clock budget), with its own seed;
    the candidate chooses from every trial in the study."""
    out = tmp_path / "run"
    result = nnvsml.compare(str(cancer_csv), target="diagnosis", out=out,
                            models=["logistic_regression", "mlp"], budget=40, search="random",
                            analyses="none", report=False, seed=0, executor="ray",
                            ray_address=cluster)
    models = {m["name"]: m for m in result.results["models"]}
    assert all(m["status"] == "ok" for m in models.values()), {
        n: m["reason"] for n, m in models.items()}
    tuned = [m for m in models.values() if m["tuning"].get("study")]
    assert tuned, {n: m["tuning"].get("reason") for n, m in models.items()}
    for m in tuned:
        assert m["tuning"]["workers"] == 2, (m["name"], m["tuning"])
        assert (out / "logs" / f"{m['name']}-helper-{0 + 1009}.log").exists()


def test_an_unreachable_cluster_is_one_line_before_anything_is_written(cancer_csv, tmp_path,
                                                                      capsys):
    from oneline import cli_failure

    out = tmp_path / "run"
    code, err = cli_failure(capsys, ["compare", str(cancer_csv), "--executor", "ray",
                                     "--ray-address", f"127.0.0.1:{_free_port()}",
                                     "--out", str(out)])
    assert code == 2 and "cannot reach the Ray cluster" in err
    assert not out.exists()


def test_two_ray_workers_tune_one_postgresql_study(cluster, postgres, cancer_df):
    """Trials side by side: one study in PostgreSQL, tuned by two Ray tasks on the two nodes,
    with the data put into Ray's object store once."""
    import optuna
    import ray

    from nnvsml.models import BuildContext, get
    from nnvsml.tuning.tuner import TuningPlan, tune

    X, y = cancer_df.drop(columns=["diagnosis"]), cancer_df["diagnosis"].to_numpy()
    rows = np.random.default_rng(0).permutation(len(X))
    split = (np.sort(rows[:400]), np.sort(rows[400:]))
    kinds = {c: "numeric" for c in X.columns}
    plan = TuningPlan(strategy="random", trials=8, storage=postgres, study_prefix="shared")

    @ray.remote(num_cpus=1, scheduling_strategy="SPREAD")
    def tune_here(data, seed):
        X, y, split = data

        def context(params, max_time, n_train=None):
            return BuildContext(task="binary", kinds=kinds, n_train=len(split[0]), seed=0,
                                max_time=max_time, params=params)

        record = tune(get("logistic_regression"), plan, X=X, y=y, split=split, task="binary",
                      classes=["benign", "malignant"], metric="accuracy", seed=seed,
                      make_ctx=context, budget=None, trial_max_time=None)
        return ray.get_runtime_context().get_node_id(), record

    ray.init(address=cluster, include_dashboard=False, log_to_driver=False,
             configure_logging=False, logging_level="ERROR")
    try:
        data = ray.put((X, y, split))  # once: both tasks read it from the object store
        # Each worker draws its own configurations (a seed each), into the one study.
        done = ray.get([tune_here.remote(data, seed) for seed in (1, 2)], timeout=240)
    finally:
        ray.shutdown()
    assert len({node for node, _ in done}) == 2  # one task on each node
    study = optuna.load_study(study_name="shared:logistic_regression", storage=postgres)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    # The workers stop once the study holds 8 finished trials; each may have one in flight.
    assert 8 <= len(finished) <= 10
    assert len({t.user_attrs["worker"] for t in finished}) == 2
    assert len({t.number for t in study.trials}) == len(study.trials)
    # Each worker's record reads the whole study: the best configuration of both workers' trials.
    best = max(finished, key=lambda t: (t.value, -t.number))
    for _, record in done:
        assert record["completed"] >= 8
        assert record["best_score"] in {t.value for t in finished}
    assert max(record["best_score"] for _, record in done) == pytest.approx(best.value)
