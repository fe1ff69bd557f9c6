"""``luigi.contrib`` has no tasuki.compat counterpart; importing it says what to use instead."""

from tasuki.errors import UnsupportedError

raise UnsupportedError(
    "luigi.contrib (S3/GCS/BigQuery/Redshift targets, Spark, Kubernetes jobs...) is not part "
    "of tasuki.compat. tasuki's ways: outputs on S3/GCS through the workspace URL "
    "(workspace = 's3://bucket/path'), warehouse queries with tasuki.warehouse.QueryTask, "
    "write-back with WriteTableTask, containers with `tasuki argo export`.",
    construct="luigi.contrib",
)
