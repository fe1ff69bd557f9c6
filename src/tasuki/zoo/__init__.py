"""A model zoo in the team's registry: immutable content-addressed model versions, aliases
with an audit log, mirrored into the MLflow Model Registry when tracking is configured."""
