"""The site the browser tests use: a real pipeline built into a workspace, a DuckDB
warehouse synced into the catalog with lineage, an OIDC provider and ``tasuki web``.

The pipeline is the catalog example's (``orders`` read by ``DailyRevenue``, written back as
``daily_revenue``) plus two recommenders whose rankings the comparison page sets side by
side. Their module is written to the site's folder, which the server imports from.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECS_MODULE = "e2e_recs"
RECS = textwrap.dedent(
    '''
    """Two recommenders over the same users: a popularity list and a personalised one."""

    from typing import Any

    import pandas as pd

    import tasuki

    LISTS = {
        "popular": {1: ["a", "b", "c", "d", "e", "f"], 2: ["a", "b", "c", "d", "e", "f"]},
        "personal": {1: ["c", "a", "f", "b", "g", "h"], 2: ["e", "a", "b"]},
    }


    class Interactions(tasuki.Task):
        """Who looked at what (the recommenders' common input)."""

        def output(self) -> Any:
            return self.make_target("interactions.parquet")

        def run(self) -> None:
            self.dump(pd.DataFrame({"user": [1, 1, 2], "item": ["a", "c", "e"]}))


    class Recommender(tasuki.Task):
        """Top-N items per user."""

        algo: str

        def requires(self) -> Any:
            return Interactions()

        def output(self) -> Any:
            return self.make_target("recs.parquet")

        def run(self) -> None:
            rows = [
                {"user": user, "item": item, "rank": rank}
                for user, items in LISTS[self.algo].items()
                for rank, item in enumerate(items, start=1)
            ]
            self.dump(pd.DataFrame(rows))
    '''
)


@dataclass(frozen=True)
class Seeded:
    """What the seed made: where, and the two rankings' task ids."""

    folder: Path
    warehouse_url: str
    popular: str
    personal: str


def seed(folder: Path, repo: Path) -> Seeded:
    """Build the pipeline, make and sync the warehouse, merge lineage into the catalog."""
    import tasuki
    from tasuki.catalog import Catalog, refresh_lineage, sync

    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    from examples.catalog.run import make_warehouse
    from examples.catalog.tasks import publish

    (folder / f"{RECS_MODULE}.py").write_text(RECS)
    sys.path.insert(0, str(folder))
    try:
        recs: Any = importlib.import_module(RECS_MODULE)
    finally:
        sys.path.remove(str(folder))
    warehouse = folder / "warehouse.duckdb"
    make_warehouse(str(warehouse))
    url = f"duckdb:///{warehouse}"
    settings = tasuki.load_settings(
        {
            "workspace": str(folder / "workspace"),
            "catalog": f"sqlite:///{folder / 'catalog.db'}",
            "warehouses": {"dwh": url},
            "executor": "inline",
            "progress": "off",
        },
        # Module fixtures run before the per-test isolation: no TASUKI_* from the shell
        # (TASUKI_TEST_ARTIFACTS is the harness's, not a setting).
        environ={},
    )
    popular, personal = recs.Recommender(algo="popular"), recs.Recommender(algo="personal")
    result = tasuki.run_build([publish(), popular, personal], settings=settings)
    assert result.ok, result
    with Catalog.open(settings=settings) as catalog:
        sync(catalog, "dwh", settings=settings)
        refresh_lineage(catalog, settings=settings)
    sys.modules.pop(RECS_MODULE, None)
    return Seeded(folder, url, popular.unique_id, personal.unique_id)
