"""``from tasuki.warehouse import QueryTask`` imports no pandas and no database driver.

Every ``tasuki run`` of a pipeline with a query task imports ``tasuki.warehouse``; it used to
import ``pyarrow.dataset`` at the top of ``_result.py``, and pyarrow's dataset module imports
pandas: about 0.4 s of a cached run's 1 s. A result is read whole (``to_arrow``) only after
it is loaded; that is where the import belongs.
"""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_warehouse_package_loads_no_pandas_and_no_driver():
    code = (
        "import sys, tasuki.warehouse; "
        "print(sorted(m for m in ('pandas', 'pyarrow.dataset', 'duckdb', 'psycopg', "
        "'adbc_driver_postgresql') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
