"""Evidence: the analyses that put each claimed difference between the families to the test.

They run after the comparison, on the best model of each family (by cross-validated primary
metric), each in its own process under a time limit, and never touch the test rows: they
train on the first fold's training rows and score on that fold's validation rows. Their
results go under ``results["evidence"]``, one key per analysis. Every analysis block has
``status`` ("ok" | "failed" | "timeout" | "skipped"), ``reason`` (why, or None) and ``seconds``.

The contract (what the verdict and the report read)::

    "evidence": {
      "analyses": ["learning_curve", ...],          # the ones asked for, in run order
      "models": {"traditional": NAME, "neural": NAME},
      "scored_on": "validation rows of fold 1 (1,234 rows); the test rows are not used",
      "metric": "accuracy",                          # the run's primary metric
      "higher_is_better": true,
      "seconds": 81.2,                               # all analyses together

      "learning_curve": {status, reason, seconds, metric,
        "sizes": [100, 316, ...],                    # training rows, log-spaced, ascending
        "repeats": 3,
        "n_train": 24000,                            # rows the models were compared on
        "families": {FAMILY: {"model": NAME,
            "points": [{"size": n, "scores": [..one per repeat..], "mean": x, "std": s,
                        "fit_seconds": median s, "fit_peak_mb": median MB added}, ...],
            "fit": {"form": "score = c - a * n^(-b)", "a", "b", "c", "r2"} | None,
            "growth": {"form": "cost = k * n^e", "rows_projected": 10 * available rows,
                       "time" | "memory": {"exponent", "k", "r2", "at_10x"} | None} | None}},
        "crossing": {"status": "measured" | "extrapolated" | "none",
            "size": float | None, "low": float | None, "high": float | None,   # rows, 90% band
            "ratio": size / n_train | None, "leader_now": FAMILY, "leader_then": FAMILY | None,
            "sentence": str}},

      "data_quality": {status, reason, seconds, metric, "rows": n,
        "perturbations": {KIND: {                    # label_noise, feature_noise, missing,
            "levels": [0.0, 0.1, ...],               #   irrelevant, imbalance
            "level_label": "fraction of training labels flipped", "applies_to": str,
            "families": {FAMILY: {"model": NAME, "scores": [one per level; None where the
                                                             fit failed]}},
            "drop": {FAMILY: score at level 0 minus score at the last level measured, signed
                     so that positive = worse},
            "errors": {FAMILY: why a damaged fit failed} (only when one did)}},
        "not_applicable": {KIND: reason}},

      "overfitting": {status, reason, seconds, metric,
        "models": [{"name", "family", "train": mean CV train score, "validation": mean CV
                    validation score, "gap": train - validation (signed so positive = overfit)}],
        "regularizers": {"model": NAME,              # the best network; None if no network
            "baseline": {"train", "validation", "gap", "epochs"},
            "ablations": [{"name": "dropout" | "weight_decay" | "early_stopping" |
                           "augmentation", "off": {"train", "validation", "gap", "epochs"},
                           "effect": validation(on) - validation(off), signed so positive =
                           the regularizer helps}],
            "not_applicable": {NAME: reason}}},

      "gradients": {status, reason, seconds, "model": NAME,
        "thresholds": {"vanishing": 1e-6, "exploding": 1e2, "text": str},
        "runs": {"clipped" | "unclipped": {"clip": 1.0 | None,
            "layers": [layer names, input to output],
            "norms": [[per epoch] one list per layer],   # mean over the epoch's batches
            "max_norms": [[per epoch] one list per layer],
            "train_loss": [per epoch], "valid_loss": [per epoch],
            "flags": {"vanishing": [layer names], "exploding": [layer names]},
            "validation": score}}},

      "explanations": {status, reason, seconds,
        "features": [names],      # raw columns, words, pixels, time segments or patches
        "models": {FAMILY: {"model": NAME,
            "intrinsic": {"kind": "coefficients" | "importances", "values": {feature: v}} | None,
                          # features: raw columns (tables), words, summary statistics
                          # (series), MFCC statistics (audio)
            "shap": {"explainer": "TreeExplainer" | "LinearExplainer" | "KernelExplainer"
                                  | "KernelExplainer (words)" | "KernelExplainer (pixel blocks)"
                                  | "KernelExplainer (time segments)"
                                  | "KernelExplainer (spectrogram patches)"
                                  | "GradientExplainer", "exact": bool, "rows": n,
                     "importance": {feature: mean |SHAP|},
                     # images, series, spectrograms: the values drawn back onto the input,
                     # largest = 1; layout "image" | "series" (shape [length]) | "grid"
                     "map": [floats], "shape": [h, w] | [length], "layout": str} | None,
            "lime": [{"row": i, "prediction": str, "weights": {feature: w},
                      "local_r2": float (not for tables, texts)}] | None,
            "lime_skipped": reason (only when time ran short),
            "rules": {"depth": 3, "fidelity": share of rows where the tree agrees with the
                      model, "text": sklearn export_text,
                      "features": what the tree reads (series, audio)} | None,
            "saliency": {"shape": [h, w] | [length], "layout": as for "map", "classes": [..],
                         "maps": [[floats] one per class], "method": "gradient_x_input" |
                         "gradient_x_delta" (input minus the average input) | "occlusion",
                         "note": why the maps are flat (only when they are)} | None}},
        "agreement": {"spearman": rho | None, "top_k": 5, "top_k_overlap": share of the top
                      features both models name, "features_compared": n,
                      "pairs": [{"a", "b", "spearman"}]} | None},

      "energy": {status, reason, seconds,
        "power_model": {"cpu_watts_per_core", "memory_watts_per_gb", "gpu_watts",
                        "grid_g_co2_per_kwh", "text"},
        "models": [{"name", "family", "fit_wh", "fit_g_co2", "predict_wh_per_1k",
                    "predict_g_co2_per_1k", "cpu_seconds", "gpu_seconds"}]},

      "deployability": {status, reason, seconds,
        "threads": 1,                                # each route's threads (both the same)
        "rows": n,                                   # validation rows timed as a batch
        "onnx_runtime": version | None,
        "models": {FAMILY: {"model": NAME,
            "formats": {"joblib" | "safe" | "onnx": {"status", "reason", "size_kb",
                        "files": [paths in the run], "parity": {...} (safe, onnx),
                        "scope": "pipeline" | "network" (onnx: what the ONNX graph holds)}},
            "routes": {"native" | "onnx": {"status", "reason", "cold_start_s",
                       "load_and_first_s", "p50_ms", "p99_ms", "single_calls", "rows_per_s",
                       "batch_rows", "peak_memory_mb"}}}}}
    }
"""

from __future__ import annotations

#: Every analysis, in the order they run: the cheapest first, so that the time they leave
#: unused goes to the learning curves, the costliest, last.
ANALYSES = ("energy", "deployability", "gradients", "overfitting", "explanations",
            "data_quality", "learning_curve")
