"""Do networks cost more energy? Watt-hours and grams of CO2 per fit and per 1,000 predictions,
estimated from the measured CPU seconds (GPU seconds when a GPU trained) and a stated power
model. A pure function of results: nothing is refitted.

The power model is CodeCarbon's fallback, stated so it can be checked and changed: a busy CPU
core draws its share of a typical server CPU's thermal design power, memory draws 0.375 W per
GB held, a GPU its board power; the grid's carbon intensity is the world average. Figures are
estimates for comparing the two families on one machine, not a meter reading.
"""

from __future__ import annotations

import os

#: 85 W TDP shared by 8 cores of a typical server CPU (CodeCarbon's constant when the CPU is
#: unknown).
CPU_WATTS_PER_CORE = float(os.environ.get("NNVSML_CPU_WATTS_PER_CORE", 85.0 / 8))
MEMORY_WATTS_PER_GB = 0.375
GPU_WATTS = float(os.environ.get("NNVSML_GPU_WATTS", 250.0))
#: World average carbon intensity of electricity, g CO2 per kWh (Ember 2023).
GRID_G_CO2_PER_KWH = float(os.environ.get("NNVSML_GRID_G_CO2_PER_KWH", 475.0))


def power_model() -> dict:
    return {
        "cpu_watts_per_core": CPU_WATTS_PER_CORE,
        "memory_watts_per_gb": MEMORY_WATTS_PER_GB,
        "gpu_watts": GPU_WATTS,
        "grid_g_co2_per_kwh": GRID_G_CO2_PER_KWH,
        "text": (f"energy = CPU seconds x {CPU_WATTS_PER_CORE:.2f} W per busy core + GPU "
                 f"seconds x {GPU_WATTS:.0f} W + peak memory GB x {MEMORY_WATTS_PER_GB} W x "
                 f"wall seconds; CO2 = energy x {GRID_G_CO2_PER_KWH:.0f} g per kWh (world "
                 "average). Override with NNVSML_CPU_WATTS_PER_CORE, NNVSML_GPU_WATTS and "
                 "NNVSML_GRID_G_CO2_PER_KWH."),
    }


def watt_hours(cpu_seconds: float, wall_seconds: float, memory_mb: float,
               gpu_seconds: float = 0.0) -> float:
    joules = (cpu_seconds * CPU_WATTS_PER_CORE + gpu_seconds * GPU_WATTS
              + memory_mb / 1024.0 * MEMORY_WATTS_PER_GB * wall_seconds)
    return joules / 3600.0


def estimate(results: dict) -> dict:
    rows = []
    for m in results.get("models", []):
        cost = m.get("cost") or {}
        if m.get("status") != "ok" or cost.get("fit_seconds") is None:
            continue
        on_gpu = (m.get("training") or {}).get("device", "cpu").startswith("cuda")
        fit_wall = cost["fit_seconds"]
        cpu = cost.get("cpu_seconds") or fit_wall
        memory = cost.get("peak_memory_mb") or 0.0
        fit_wh = watt_hours(cpu, fit_wall, memory, gpu_seconds=fit_wall if on_gpu else 0.0)
        predict_wall = (cost.get("predict_ms_per_1k") or 0.0) / 1000.0
        predict_cpu = (cost.get("predict_cpu_ms_per_1k") or cost.get("predict_ms_per_1k")
                       or 0.0) / 1000.0
        predict_wh = watt_hours(predict_cpu, predict_wall, memory,
                                gpu_seconds=predict_wall if on_gpu else 0.0)
        rows.append({
            "name": m["name"], "family": m["family"],
            "fit_wh": fit_wh, "fit_g_co2": fit_wh / 1000.0 * GRID_G_CO2_PER_KWH,
            "predict_wh_per_1k": predict_wh,
            "predict_g_co2_per_1k": predict_wh / 1000.0 * GRID_G_CO2_PER_KWH,
            "cpu_seconds": cpu, "gpu_seconds": fit_wall if on_gpu else 0.0,
        })
    return {"status": "ok", "reason": None, "seconds": 0.0, "power_model": power_model(),
            "models": rows}
