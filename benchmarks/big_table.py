"""Benchmark: a whole comparison on a table of millions of rows, its wall time and peak memory.

Runs ``nnvsml compare TABLE --budget B`` (a table from ``make_big_table.py``) as a command and
samples the resident memory of its whole process tree (the run and every candidate's process)
every half second: the peaks of their RSS summed, of their PSS summed (shared pages split
between the processes that map them), and of the machine's used memory above what it was
before. Reports, per model, its status, the rows it trained on (all training rows when
streamed), its test accuracy and fit seconds.

    python benchmarks/make_big_table.py --rows 10000000 --out /tmp/big10m.parquet
    python benchmarks/big_table.py /tmp/big10m.parquet --budget 1800
    python benchmarks/big_table.py /tmp/big1m.parquet --budget 1800 --ray-nodes 2

``--ray-nodes N`` starts a local Ray cluster of N nodes (``ray start``, a head and N-1 workers,
the machine's cores split between them, on loopback behind a random token), runs the comparison
on it with ``--executor ray``, and counts the cluster's processes (its daemons, and the workers
and candidate processes below them) in the peak memory; the cluster is stopped afterwards.

Results: ``benchmarks/results/big_table-<rows>-<executor>.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def tree_memory(roots: list[psutil.Process]) -> tuple[int, int]:
    """The resident memory of the processes under ``roots``: the sum of their RSS (counts the
    pages they share, libraries and Ray's object store, once per process) and of their PSS (each
    shared page split between the processes mapping it: what they take from the machine)."""
    seen: dict[int, psutil.Process] = {}
    for root in roots:
        try:
            for p in [root, *root.children(recursive=True)]:
                seen[p.pid] = p
        except psutil.Error:
            pass
    rss = pss = 0
    for p in seen.values():
        try:
            info = p.memory_full_info()
            rss += info.rss
            pss += info.pss
        except psutil.Error:
            pass
    return rss, pss


class LocalCluster:
    """N Ray nodes on this machine (a head and N-1 workers), started and stopped by ``ray
    start`` / ``ray stop``."""

    def __init__(self, nodes: int) -> None:
        self.temp = f"/tmp/nnvsml-bench-ray-{secrets.token_hex(4)}"  # sockets need a short path
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN":
                    secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}
        ray = str(Path(sys.executable).with_name("ray"))
        cpus = max(1, (os.cpu_count() or 2) // nodes)
        common = [f"--num-cpus={cpus}", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
        self.stop_cmd = [ray, "stop", "--force"]
        subprocess.run([ray, "start", "--head", f"--port={self.port}",
                        "--include-dashboard=false", f"--temp-dir={self.temp}", *common],
                       env=self.env, check=True, capture_output=True, timeout=180)
        for _ in range(nodes - 1):
            subprocess.run([ray, "start", f"--address=127.0.0.1:{self.port}", *common],
                           env=self.env, check=True, capture_output=True, timeout=180)
        self.address = f"127.0.0.1:{self.port}"
        self.nodes, self.cpus_per_node = nodes, cpus

    def processes(self) -> list[psutil.Process]:
        """The cluster's daemons (their command lines name its folder); its workers and the
        candidates' processes are their descendants."""
        out = []
        for p in psutil.process_iter(["cmdline"]):
            if any(self.temp in part for part in p.info["cmdline"] or []):
                out.append(p)
        return out

    def stop(self) -> None:
        subprocess.run(self.stop_cmd, env=self.env, capture_output=True, timeout=180)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--budget", type=float, default=1800)
    parser.add_argument("--executor", default="local")
    parser.add_argument("--ray-nodes", type=int, default=0,
                        help="start a local Ray cluster of this many nodes and run on it")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="more options for nnvsml compare")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="nnvsml-big-")) / "run"
    cluster, env = None, None
    if args.ray_nodes:
        args.executor = "ray"
        cluster = LocalCluster(args.ray_nodes)
        env = cluster.env
        args.extra = ["--ray-address", cluster.address, *args.extra]
    cmd = [sys.executable, "-m", "nnvsml", "compare", args.table, "--target", "target",
           "--budget", str(args.budget), "--executor", args.executor, "--quiet",
           "--no-report", "--out", str(out), *args.extra]
    # Peaks: RSS sum, PSS sum, and the machine's used memory (total less available) above
    # what it was before the run (and its cluster) started.
    peak, stop, proc = [0, 0, 0], threading.Event(), None
    vm = psutil.virtual_memory()
    used_before = vm.total - vm.available
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env)
        watched = psutil.Process(proc.pid)

        def sample():
            while not stop.is_set():
                roots = [watched, *(cluster.processes() if cluster else [])]
                rss, pss = tree_memory(roots)
                vm = psutil.virtual_memory()
                peak[:] = [max(peak[0], rss), max(peak[1], pss),
                           max(peak[2], vm.total - vm.available - used_before)]
                stop.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        output, _ = proc.communicate()
        wall = time.perf_counter() - t0
        stop.set()
        sampler.join()
    finally:
        if proc is not None and proc.poll() is None:  # interrupted: the run goes too
            proc.terminate()
            proc.wait(60)
        if cluster is not None:
            cluster.stop()
    if proc.returncode != 0:
        sys.exit(f"nnvsml compare failed ({proc.returncode}):\n{output[-3000:]}")
    results = json.loads((out / "results.json").read_text())
    sampling = results["dataset"].get("sampling")
    models = []
    for m in results["models"]:
        evaluation = m.get("evaluation") or {}
        models.append({"name": m["name"], "family": m["family"], "status": m["status"],
                       "reason": m.get("reason"), "trained_rows": evaluation.get("trained_rows"),
                       "streamed": evaluation.get("streamed"),
                       "accuracy": (m.get("test") or {}).get("accuracy"),
                       "roc_auc": (m.get("test") or {}).get("roc_auc"),
                       "fit_seconds": (m.get("cost") or {}).get("fit_seconds"),
                       "peak_memory_mb": (m.get("cost") or {}).get("peak_memory_mb"),
                       "host": (m.get("cost") or {}).get("host"),
                       "node": (m.get("cost") or {}).get("node")})
    record = {"command": " ".join(cmd[1:]), "rows": results["dataset"]["n_rows"],
              "wall_seconds": round(wall, 1),
              # --budget bounds the comparison; the analyses run after it on their own
              # --analysis-budget (default half of --budget), so the whole command may be longer.
              "comparison_seconds": results["protocol"].get("wall_seconds"),
              "analysis_seconds": (results.get("evidence") or {}).get("seconds"),
              "analysis_budget": (results.get("evidence") or {}).get("budget_seconds"),
              "peak_memory_gb": round(peak[0] / 2**30, 2),
              "peak_pss_gb": round(peak[1] / 2**30, 2),
              "peak_machine_used_gb": round(peak[2] / 2**30, 2),
              "budget": args.budget, "executor": args.executor, "sampling": sampling,
              "ray_nodes": args.ray_nodes or None,
              "nodes": results["protocol"]["executor"].get("nodes"),
              "lanes": (results["protocol"].get("budget") or {}).get("lanes"),
              "family_seconds": (results["protocol"].get("budget") or {}).get("spent"),
              "verdict": {k: results["verdict"].get(k) for k in ("family", "model")},
              "models": models, "machine": f"{platform.node()} {psutil.cpu_count()} CPUs "
              f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
              "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    where = f"ray{args.ray_nodes}" if args.ray_nodes else args.executor
    name = f"big_table-{record['rows']}-{where}.json"
    (RESULTS / name).write_text(json.dumps(record, indent=2) + "\n")
    print(f"{record['rows']:,} rows, {args.executor}: {wall:.0f} s wall, of which the "
          f"comparison {record['comparison_seconds']:.0f} s (budget {args.budget:.0f}) and the "
          f"analyses {record['analysis_seconds'] or 0:.0f} s (on top, at most "
          f"{record['analysis_budget'] or 0:.0f}), peak memory {record['peak_memory_gb']} GB (RSS summed; PSS "
          f"{record['peak_pss_gb']} GB; the machine's used memory "
          f"+{record['peak_machine_used_gb']} GB); verdict "
          f"{record['verdict']}")
    if sampling:
        print(f"in memory {sampling['in_memory_rows']:,} rows (sample {sampling['sample_rows']:,}"
              f", test {sampling['test_rows']:,}) of {sampling['rows']:,}: {sampling['rule']}")
    print("| model | family | status | trained rows | test accuracy | ROC-AUC | fit s | MB |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for m in models:
        acc = f"{m['accuracy']:.4f}" if m["accuracy"] is not None else "-"
        auc = f"{m['roc_auc']:.4f}" if m["roc_auc"] is not None else "-"
        rows = f"{m['trained_rows']:,}" if m["trained_rows"] else "-"
        print(f"| {m['name']} | {m['family']} | {m['status']} | {rows}"
              f"{' (streamed)' if m['streamed'] else ''} | {acc} | {auc} | "
              f"{m['fit_seconds'] or '-'} | {m['peak_memory_mb'] or '-'} |")


if __name__ == "__main__":
    main()
