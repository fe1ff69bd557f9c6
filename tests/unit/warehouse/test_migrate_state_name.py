"""The warehouse reads the state table ``tasuki migrate`` writes, by a name of its own.

``tasuki.warehouse`` and ``tasuki.migrate`` are siblings that never import each other, so the
query task spells the migration state table's name itself: if the two ever differ, a query
would no longer see migrations and keep results made before one.
"""

from tasuki.migrate._postgres import STATE_TABLE
from tasuki.warehouse._migrated import MIGRATE_STATE_TABLE


def test_the_query_task_reads_the_table_the_migration_writes():
    assert MIGRATE_STATE_TABLE == STATE_TABLE
