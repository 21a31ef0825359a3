"""Benchmark: what it takes to serve each family's best model, from its safe files.

Runs ``nnvsml compare`` on a table (default adult, ``--budget 60 --analyses none``), exports
each family's best model, then measures, per model:

- artifact size: the safe files (skops, and for a network safetensors + its JSON);
- cold start: a fresh ``python`` process that loads the export and answers its first row (wall
  seconds from spawn to answer, median of ``--repeats``);
- single-row latency p50 / p99 through the served path (``ServedModel.predict_table``: schema
  check, pipeline, probabilities) and, beside it, scikit-learn's own ``predict_proba`` of the
  fitted pipeline on the same row;
- batch throughput (rows/s) on up to 10,000 rows.

Then a load test: ``nnvsml serve`` on 127.0.0.1 with the verdict's model, ``--clients``
concurrent clients of ``--requests`` single-row requests each (httpx, one connection each),
p50 / p99 and errors; once with ``--runtime native`` (scikit-learn) and once with
``--runtime onnx`` (the checked ONNX copy the run's deployability analysis wrote). Each measurement runs quiet and then loaded (a CPU hog keeping one core
busy), unless ``--modes`` says otherwise.

    python benchmarks/serving.py                          # adult, quiet then loaded
    python benchmarks/serving.py --run RUN_DIR --modes quiet --clients 200 --requests 5

Results: ``benchmarks/results/serving-<mode>.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
TOKEN = "benchmark-token-0123456789"
COLD = ("import sys, time, pandas as pd; t = time.perf_counter(); "
        "from nnvsml.deploy.model import load; m = load(sys.argv[1]); "
        "m.predict_table(pd.read_csv(sys.argv[2]).head(1)); print(time.perf_counter() - t)")


@contextmanager
def load_of(mode: str):
    hog = None
    if mode == "loaded":
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(2)
    try:
        yield
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def make_run(out: Path, budget: float) -> Path:
    if (out / "results.json").exists():
        return out
    subprocess.run([sys.executable, "-m", "nnvsml", "compare", str(DATA / "adult" / "adult.tsv.gz"),
                    "--target", "target", "--budget", str(budget), "--analyses", "deployability",
                    "--analysis-budget", "120",
                    "--no-report", "--quiet", "--out", str(out)], check=True)
    return out


def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def measure_model(run: Path, name: str, rows, repeats: int, work: Path) -> dict:
    from nnvsml import artifacts
    from nnvsml.deploy.export import export
    from nnvsml.deploy.model import load

    folder = export(run, model=name, out=work / name)
    size_kb = sum(p.stat().st_size for p in folder.glob("model.*")) / 1024
    sample = work / "rows.csv"
    rows.head(100).to_csv(sample, index=False)
    cold = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", COLD, str(folder), str(sample)], check=True,
                       capture_output=True)
        cold.append(time.perf_counter() - t0)
    served = load(folder)
    entry = next(m for m in json.loads((run / "results.json").read_text())["models"]
                 if m["name"] == name)
    # The pickle, for scikit-learn's own timing, only when this user's run signed it (--run may
    # name any folder).
    reason = artifacts.untrusted(run, entry["artifacts"])
    if reason is not None:
        raise SystemExit(f"{name}: not loading its pickle: {reason}")
    native = artifacts.load_model(run, entry["artifacts"])
    one = rows.head(1)
    timings = {"served": [], "sklearn": []}
    for _ in range(20):  # warm
        served.predict_table(one)
        native.predict_proba(one)
    for i in range(300):
        row = rows.iloc[[i % len(rows)]]
        t0 = time.perf_counter()
        served.predict_table(row)
        t1 = time.perf_counter()
        native.predict_proba(row)
        t2 = time.perf_counter()
        timings["served"].append(t1 - t0)
        timings["sklearn"].append(t2 - t1)
    batch = rows.head(10_000)
    t0 = time.perf_counter()
    served.predict_table(batch)
    batch_seconds = time.perf_counter() - t0
    onnx = onnx_row_timings(run, name, rows)
    return {**onnx, 
        "model": name, "family": entry["family"], "artifact_kb": round(size_kb, 1),
        "cold_start_s": round(statistics.median(cold), 3),
        "single_row_p50_ms": round(percentile(timings["served"], 50), 3),
        "single_row_p99_ms": round(percentile(timings["served"], 99), 3),
        "sklearn_predict_proba_p50_ms": round(percentile(timings["sklearn"], 50), 3),
        "batch_rows_per_s": round(len(batch) / batch_seconds, 1),
    }


def onnx_row_timings(run: Path, name: str, rows) -> dict:
    """The service's one-row path through the checked ONNX copy (``ServedModel.outputs_row``:
    JSON row to tensors, no table), when the run has one."""
    from nnvsml.deploy.model import load
    from nnvsml.errors import InputError

    try:
        served = load(run, name, "onnx")
    except InputError as exc:
        return {"onnx_row": str(exc)[:120]}
    records = json.loads(rows.head(300).to_json(orient="records"))
    for record in records[:20]:
        served.outputs_row(record)
    seconds = []
    for record in records:
        t0 = time.perf_counter()
        served.outputs_row(record)
        seconds.append(time.perf_counter() - t0)
    return {"onnx_row_p50_ms": round(percentile(seconds, 50), 3),
            "onnx_row_p99_ms": round(percentile(seconds, 99), 3)}


def onnx_cell(m: dict) -> str:
    if "onnx_row" in m:
        return m["onnx_row"]
    return f"{m['onnx_row_p50_ms']} / {m['onnx_row_p99_ms']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_test(run: Path, model: str, runtime: str, rows, clients: int, requests: int) -> dict:
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nnvsml", "serve", str(run), "--model", model,
                             "--runtime", runtime, "--port", str(port), "--token", TOKEN],
                            start_new_session=True, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        records = json.loads(rows.head(1000).to_json(orient="records"))
        headers = {"Authorization": f"Bearer {TOKEN}"}

        # One TLS context for all clients (httpx loads the certificates once per client
        # otherwise), and one connection per client: a single pool of 200 connections cost
        # the clients more CPU than the server.
        context = ssl.create_default_context()

        async def client(i: int) -> list[tuple[int, float]]:
            out = []
            async with httpx.AsyncClient(timeout=120, verify=context) as session:
                for j in range(requests):
                    t0 = time.perf_counter()
                    try:
                        r = await session.post(
                            f"{url}/v1/predict", headers=headers,
                            json={"row": records[(i * requests + j) % len(records)]})
                        out.append((r.status_code, time.perf_counter() - t0))
                    except httpx.HTTPError:
                        out.append((0, time.perf_counter() - t0))
            return out

        async def run_all():
            return await asyncio.gather(*(client(i) for i in range(clients)))

        t0 = time.perf_counter()
        results = [x for chunk in asyncio.run(run_all()) for x in chunk]
        wall = time.perf_counter() - t0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    latencies = [s for _, s in results]
    return {"model": model, "runtime": runtime, "clients": clients, "requests_each": requests,
            "requests": len(results),
            "errors": sum(1 for code, _ in results if code != 200),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "requests_per_s": round(len(results) / wall, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=RESULTS / "runs" / "serving-adult")
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--modes", nargs="+", default=["quiet", "loaded"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    from nnvsml.data import load_dataset

    run = make_run(args.run, args.budget)
    results = json.loads((run / "results.json").read_text())
    best = {}
    for m in results["models"]:
        if m["status"] == "ok":
            metric = m["test"]["accuracy"]
            if m["family"] not in best or metric > best[m["family"]][1]:
                best[m["family"]] = (m["name"], metric)
    rows = load_dataset(DATA / "adult" / "adult.tsv.gz", target="target").X
    work = RESULTS / "runs" / "serving-exports"
    RESULTS.mkdir(parents=True, exist_ok=True)
    print("| mode | model | family | artifact KB | cold start s | single row p50 / p99 ms | "
          "scikit-learn predict_proba p50 ms | ONNX Runtime row p50 / p99 ms | batch rows/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode in args.modes:
        with load_of(mode):
            measured = [measure_model(run, name, rows, args.repeats, work)
                        for name, _ in best.values()]
            verdict = results["verdict"]["model"]
            loads = [load_test(run, verdict, runtime, rows, args.clients, args.requests)
                     for runtime in ("native", "onnx")]
        out = {"mode": mode, "machine": f"{platform.node()} ({os.cpu_count()} cores)",
               "date": time.strftime("%Y-%m-%d"), "models": measured, "load_tests": loads}
        (RESULTS / f"serving-{mode}.json").write_text(json.dumps(out, indent=2))
        for m in measured:
            print(f"| {mode} | {m['model']} | {m['family']} | {m['artifact_kb']} | "
                  f"{m['cold_start_s']} | {m['single_row_p50_ms']} / {m['single_row_p99_ms']} | "
                  f"{m['sklearn_predict_proba_p50_ms']} | {onnx_cell(m)} | "
                  f"{m['batch_rows_per_s']:,} |")
        for load in loads:
            print(f"| {mode} | load test, {load['model']} ({load['runtime']}) | "
                  f"{load['clients']} clients x {load['requests_each']} | "
                  f"{load['requests']} requests | {load['errors']} errors | p50 {load['p50_ms']} "
                  f"/ p99 {load['p99_ms']} ms | {load['requests_per_s']} req/s | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
