"""Hyperparameter tuning with Optuna: strategies (:mod:`.strategies`), the studies' storage
(:mod:`.storage`), pruning (:mod:`.pruning`), the tuner itself (:mod:`.tuner`) and the
tuning-effort evidence (:mod:`.effort`).

The search spaces the candidates declare live beside them, in :mod:`nnvsml.models.space`:
tuning depends on the models, never the other way round.
"""
