"""Full-text search over catalog names, paths, descriptions and warehouse comments.

SQLite: the contentless FTS5 table ``catalog_search`` (trigram tokenizer, kept by triggers);
a page of hits in index order (documented tables first) scored by where the words are
(:func:`score`). PostgreSQL: pg_trgm indexes, ranked by
trigram similarity of the name, then of the text. Words shorter than three characters
cannot use a trigram index: they filter the indexed hits, or, when the query has no longer
word, a scan of names and descriptions finds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text

from tasuki.catalog._objects import SearchHit, object_from_row

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["search", "snippet"]

_NAME = "coalesce(o.column_name, o.table_name, o.schema_name, o.warehouse)"
# Index hits ranked at a time, and at most how many pages are read (filters on kind,
# warehouse and gone objects can leave few of a page).
_PAGE = 300
_MAX_PAGES = 20
_ID_MASK = (1 << 40) - 1  # the migration's TIER_SHIFT


def search(
    conn: Connection,
    query: str,
    *,
    limit: int,
    kind: str | None,
    warehouse: str | None,
    include_gone: bool,
) -> list[SearchHit]:
    """See :meth:`tasuki.catalog.Catalog.search`."""
    words = [w for w in query.split() if w]
    if not words:
        return []
    where, params = _filters(kind, warehouse, include_gone)
    if conn.dialect.name == "postgresql":
        rows = _postgres(conn, words, where, params, limit)
    else:
        rows = _sqlite(conn, words, where, params, limit)
    hits = [SearchHit(object_from_row(r), float(r["score"]), snippet(r, words)) for r in rows]
    return hits


def _filters(
    kind: str | None, warehouse: str | None, include_gone: bool
) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if kind is not None:
        where.append("o.kind = :kind")
        params["kind"] = kind
    if warehouse is not None:
        where.append("o.warehouse = :warehouse")
        params["warehouse"] = warehouse
    if not include_gone:
        where.append("o.gone_at IS NULL")
    return where, params


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _short_filters(words: list[str], params: dict[str, Any], op: str) -> list[str]:
    clauses = []
    for i, word in enumerate(words):
        params[f"w{i}"] = _like(word)
        clauses.append(
            f"(o.path {op} :w{i} ESCAPE '\\' OR o.description {op} :w{i} ESCAPE '\\' "
            f"OR coalesce(o.comment, '') {op} :w{i} ESCAPE '\\')"
        )
    return clauses


def _sqlite(
    conn: Connection, words: list[str], where: list[str], params: dict[str, Any], limit: int
) -> list[Any]:
    long = [w for w in words if len(w) >= 3]
    short = [w for w in words if len(w) < 3]
    where = where + _short_filters(short, params, "LIKE")
    params["limit"] = limit
    # An object named exactly what was typed comes first (the expression index on names).
    params["exact"] = " ".join(words).lower()
    extra = f" AND {' AND '.join(where)}" if where else ""
    exact = list(
        conn.execute(
            text(
                f"SELECT o.*, 1000.0 AS score FROM catalog_objects o "
                f"WHERE lower({_NAME}) = :exact{extra} LIMIT :limit"
            ),
            params,
        ).mappings()
    )
    if not long:
        # No word the trigram index can serve: scan, stopping at `limit` matches.
        rest = conn.execute(
            text(
                f"SELECT o.*, 0.0 AS score FROM catalog_objects o WHERE {' AND '.join(where)} "
                "LIMIT :limit"
            ),
            params,
        ).mappings()
        return _merge(exact, sorted(rest, key=lambda r: len(r["path"])), limit)
    params["match"] = " AND ".join('"' + w.replace('"', '""') + '"' for w in long)
    # Hits come in rowid order, which puts documented tables first (see the migration's
    # tiers): a page of them costs about a millisecond whatever the index size, where BM25
    # would read every hit of every trigram for its statistics (50-150 ms for a common
    # word among a million columns). The page is scored here, by where the words are.
    scored: list[tuple[float, int, int]] = []
    after = -1
    for _ in range(_MAX_PAGES):
        rowids = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT rowid FROM catalog_search WHERE catalog_search MATCH :match "
                    f"AND rowid > :after ORDER BY rowid LIMIT {_PAGE}"
                ),
                {**params, "after": after},
            )
        ]
        if not rowids:
            break
        after = rowids[-1]
        kept = conn.execute(
            text(
                f"SELECT o.id, o.path, o.kind, {_NAME} AS name, o.description, o.comment "
                f"FROM catalog_objects o WHERE o.id IN :ids{extra}"
            ).bindparams(bindparam("ids", expanding=True)),
            {**params, "ids": [r & _ID_MASK for r in rowids]},
        ).all()
        scored += [(score(r, long), len(r[1]), r[0]) for r in kept]
        if len(scored) >= limit or len(rowids) < _PAGE:
            break
    scored.sort(key=lambda r: (-r[0], r[1]))
    best = {i: value for value, _, i in scored[: limit + len(exact)]}
    rows = conn.execute(
        text("SELECT o.* FROM catalog_objects o WHERE o.id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"ids": list(best)},
    ).mappings()
    found = sorted(
        ({**r, "score": best[r["id"]]} for r in rows), key=lambda r: (-r["score"], len(r["path"]))
    )
    return _merge(exact, found, limit)


def score(row: Any, words: list[str]) -> float:
    """How well an object matches: per word, most for the whole name, then the name's
    start, the name, the description, the warehouse's comment, the path; tables before
    columns, documented before not (``row``: id, path, kind, name, description, comment)."""
    _, path, kind, name, description, comment = row
    name, description, comment = name.lower(), (description or "").lower(), (comment or "").lower()
    total = 0.0
    for word in (w.lower() for w in words):
        if name == word:
            total += 8
        elif name.startswith(word):
            total += 5
        elif word in name:
            total += 4
        elif word in description:
            total += 2
        elif word in comment:
            total += 1.5
        elif word in path.lower():
            total += 0.5
    return total + (0 if kind == "column" else 1) + (0.5 if description else 0)


def _merge(first: list[Any], then: list[Any], limit: int) -> list[Any]:
    seen = {r["id"] for r in first}
    return (first + [r for r in then if r["id"] not in seen])[:limit]


def _postgres(
    conn: Connection, words: list[str], where: list[str], params: dict[str, Any], limit: int
) -> list[Any]:
    text_expr = "(o.description || ' ' || coalesce(o.comment, ''))"
    clauses = []
    for i, word in enumerate(words):
        params[f"w{i}"] = _like(word)
        clauses.append(f"(o.path ILIKE :w{i} ESCAPE '\\' OR {text_expr} ILIKE :w{i} ESCAPE '\\')")
    params["q"] = " ".join(words)
    params["limit"] = limit
    sql = (
        f"SELECT o.*, (2 * similarity({_NAME}, :q) + word_similarity(:q, {text_expr}) "
        # the SQLite index's tiers: tables before columns, documented before not
        "+ CASE WHEN o.kind = 'column' THEN 0 ELSE 0.5 END "
        "+ CASE WHEN o.description = '' THEN 0 ELSE 0.25 END) "
        f"AS score FROM catalog_objects o WHERE {' AND '.join(clauses + where)} "
        "ORDER BY score DESC, length(o.path) LIMIT :limit"
    )
    return list(conn.execute(text(sql), params).mappings())


def snippet(row: Any, words: list[str], width: int = 60) -> str:
    """Up to ``width`` characters around the first word found in the description or
    comment (plain text; the caller escapes it); the path when the words are in the name."""
    for field in ("description", "comment"):
        body = row[field] or ""
        lowered = body.lower()
        for word in words:
            at = lowered.find(word.lower())
            if at >= 0:
                start = max(0, at - width // 3)
                piece = " ".join(body[start : start + width].split())
                return ("…" if start else "") + piece + ("…" if start + width < len(body) else "")
    return str(row["path"])
