"""Hyperparameter tuning with Optuna: search spaces (:mod:`.space`), strategies
(:mod:`.strategies`), the studies' storage (:mod:`.storage`), pruning (:mod:`.pruning`), the
tuner itself (:mod:`.tuner`) and the tuning-effort evidence (:mod:`.effort`).

Kept import-light: the model specs import :mod:`.space` without pulling in Optuna.
"""
