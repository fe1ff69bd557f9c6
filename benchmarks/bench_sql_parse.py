"""How long the service's SQL check takes per token: the figure behind ``max_sql_tokens``.

Run: ``python benchmarks/bench_sql_parse.py [--tokens 20000]``. For several query shapes of
about ``--tokens`` tokens it prints the service's cheap token count, sqlglot's own token
count, the time of that count and of :func:`tasuki.warehouse.check_query` (tokenize and
parse), and the parse time per 1,000 tokens.
"""

from __future__ import annotations

import argparse
import platform
import time

import sqlglot

from tasuki.service._service import count_sql_tokens
from tasuki.warehouse import check_query


def shapes(terms: int) -> dict[str, str]:
    """Query texts of about ``2 * terms`` tokens, from cheap to dear to parse."""
    return {
        "1 + 1 + ...": "SELECT " + " + ".join(["1"] * terms),
        "IN (numbers)": "SELECT * FROM t WHERE id IN ("
        + ", ".join(str(i) for i in range(terms))
        + ")",
        "IN (strings)": "SELECT * FROM t WHERE name IN ("
        + ", ".join(f"'name-{i}'" for i in range(terms))
        + ")",
        "sum() columns": "SELECT "
        + ", ".join(f"sum(c{i}) AS s{i}" for i in range(terms // 4))
        + " FROM t",
        "CASE branches": "SELECT CASE "
        + " ".join(f"WHEN x = {i} THEN 'v{i}'" for i in range(terms // 4))
        + " END FROM t",
        "UNION ALL": " UNION ALL ".join(
            f"SELECT {i} AS a, 'x' AS b FROM t WHERE k = {i}" for i in range(terms // 12)
        ),
    }


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--dialect", default="duckdb")
    args = parser.parse_args()
    dialect = sqlglot.Dialect.get_or_raise(args.dialect)
    print(f"sqlglot {sqlglot.__version__}, Python {platform.python_version()}")
    for name, sql in shapes(args.tokens // 2).items():
        started = time.perf_counter()
        counted = count_sql_tokens(sql)
        count_s = time.perf_counter() - started
        tokens = len(dialect.tokenize(sql))
        started = time.perf_counter()
        check_query(sql, dialect=args.dialect, max_bytes=1 << 30, max_nesting=1 << 10)
        parse_s = time.perf_counter() - started
        print(
            f"{name:14} {len(sql):8,} bytes  counted {counted:7,}  sqlglot {tokens:7,} tokens  "
            f"count {count_s * 1000:5.1f} ms  check {parse_s * 1000:6.0f} ms  "
            f"{parse_s / tokens * 1e6:5.1f} ms per 1,000 tokens"
        )


if __name__ == "__main__":
    main()
