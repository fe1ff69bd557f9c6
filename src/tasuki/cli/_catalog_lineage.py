"""``tasuki catalog lineage`` and OpenLineage export/import (filled in by the lineage work)."""

from __future__ import annotations
