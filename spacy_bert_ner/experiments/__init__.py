"""Experiments over many trainings: hyperparameter sweeps and cross-validation."""
