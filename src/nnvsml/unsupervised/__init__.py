"""Unsupervised tasks: clustering and anomaly detection, scored with and without an evaluation
column that no model sees (data, the common space the metrics are computed in, the scores)."""
