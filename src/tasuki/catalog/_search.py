"""Full-text search over catalog names, paths, descriptions and warehouse comments.

SQLite: the contentless FTS5 table ``catalog_search`` (trigram tokenizer, kept by triggers),
ranked by BM25 with the name weighted highest. PostgreSQL: pg_trgm indexes, ranked by
trigram similarity of the name, then of the text. Words shorter than three characters
cannot use a trigram index: they filter the indexed hits, or, when the query has no longer
word, a scan of names and descriptions finds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from tasuki.catalog._objects import SearchHit, object_from_row

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["search", "snippet"]

# BM25 weights of the FTS columns (name, path, description, comment): a hit in the name
# says far more than one in a long description.
_WEIGHTS = "10.0, 1.0, 3.0, 2.0"
_NAME = "coalesce(o.column_name, o.table_name, o.schema_name, o.warehouse)"
# How many index hits to fetch before filters on kind, warehouse and gone objects.
_OVERFETCH = 8


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
    if not long:
        # No word the trigram index can serve: scan, exact names first, and stop at `limit`.
        params["exact"] = words[0]
        sql = (
            f"SELECT o.*, CASE WHEN lower({_NAME}) = lower(:exact) THEN 1.0 ELSE 0.5 END "
            f"AS score FROM catalog_objects o WHERE {' AND '.join(where)} "
            "ORDER BY score DESC, length(o.path) LIMIT :limit"
        )
        return list(conn.execute(text(sql), params).mappings())
    params["match"] = " AND ".join('"' + w.replace('"', '""') + '"' for w in long)
    extra = f"AND {' AND '.join(where)}" if where else ""
    # Rank in the index first (FTS5 keeps only the best rows), then join and filter; when
    # filters leave too few of the over-fetched hits, rank every hit instead.
    for fetch in (limit * _OVERFETCH, None):
        inner_limit = "" if fetch is None else f"LIMIT {int(fetch)}"
        sql = (
            "SELECT o.*, -s.score AS score FROM ("
            f"SELECT rowid, bm25(catalog_search, {_WEIGHTS}) AS score FROM catalog_search "
            f"WHERE catalog_search MATCH :match ORDER BY score {inner_limit}) s "
            f"JOIN catalog_objects o ON o.id = s.rowid WHERE 1=1 {extra} "
            "ORDER BY s.score, length(o.path) LIMIT :limit"
        )
        rows = list(conn.execute(text(sql), params).mappings())
        if fetch is None or len(rows) >= limit or not where:
            return rows
        counted = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT rowid FROM catalog_search WHERE catalog_search "
                f"MATCH :match {inner_limit})"
            ),
            params,
        ).scalar_one()
        if counted < fetch:  # every hit was seen already
            return rows
    return rows


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
        f"SELECT o.*, (2 * similarity({_NAME}, :q) + word_similarity(:q, {text_expr})) "
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
