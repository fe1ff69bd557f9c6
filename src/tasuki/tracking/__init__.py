"""Experiment tracking as a runner hook: each build an MLflow run, each task a nested run."""
