"""The weekly reports' files, stored in the lake as the Delta table ``weekly_reports``.

One row per file of a week's report (``report.html`` with its charts inlined, and each chart as
a PNG): ``week_end, name, media_type, content, written_ts``. Being a Delta table under the lake
URI, it is written and read with the same URI and object-store options as the snapshot tables
(local path and ``s3://`` alike): the worker that renders the report and the api-server that
serves it need nothing shared but the lake. A re-render replaces the week's rows in one commit
(``predicate``: that week only), so a reader sees the old report or the new one, never a mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

import polars as pl

from ib_futures.lake.storage import StorageOptions, table_uri
from ib_futures.lake.tables import open_table

REPORTS_TABLE = "weekly_reports"
HTML_NAME = "report.html"

SCHEMA = pl.Schema(
    [
        ("week_end", pl.String()),
        ("name", pl.String()),
        ("media_type", pl.String()),
        ("content", pl.Binary()),
        ("written_ts", pl.Datetime("us", "UTC")),
    ]
)


def _media_type(name: str) -> str:
    return "text/html" if name.endswith(".html") else "image/png"


def store_report(
    lake_uri: str,
    week_end: str,
    files: Mapping[str, bytes],
    storage_options: StorageOptions | None = None,
) -> int:
    """Replace the week's files in ``weekly_reports``; :return: the table version written."""
    if not files:
        raise ValueError(f"no report files for week_end={week_end}")
    try:  # it goes into the overwrite predicate: a date, nothing else
        date.fromisoformat(week_end)
    except ValueError:
        raise ValueError(f"week_end={week_end!r} is not a YYYY-MM-DD date") from None
    now = datetime.now(UTC)
    frame = pl.DataFrame(
        {
            "week_end": [week_end] * len(files),
            "name": list(files),
            "media_type": [_media_type(n) for n in files],
            "content": list(files.values()),
            "written_ts": [now] * len(files),
        },
        schema=SCHEMA,
    )
    uri = table_uri(lake_uri, REPORTS_TABLE)
    exists = open_table(uri, storage_options) is not None
    options = {"predicate": f"week_end = '{week_end}'"} if exists else {}
    frame.write_delta(
        uri, mode="overwrite" if exists else "error", storage_options=storage_options,
        delta_write_options=options,
    )  # fmt: skip
    table = open_table(uri, storage_options)
    return -1 if table is None else table.version()


def report_weeks(lake_uri: str, storage_options: StorageOptions | None = None) -> list[str]:
    """The weeks (``week_end``) with a stored report, oldest first."""
    table = open_table(table_uri(lake_uri, REPORTS_TABLE), storage_options)
    if table is None:
        return []
    weeks = (
        pl.scan_delta(table).filter(pl.col("name") == HTML_NAME).select("week_end").unique()
        .collect()["week_end"].to_list()
    )  # fmt: skip
    return sorted(weeks)


def read_report_file(
    lake_uri: str,
    week_end: str,
    name: str = HTML_NAME,
    storage_options: StorageOptions | None = None,
) -> bytes | None:
    """One stored file of one week's report, or None."""
    table = open_table(table_uri(lake_uri, REPORTS_TABLE), storage_options)
    if table is None:
        return None
    hit = (
        pl.scan_delta(table)
        .filter((pl.col("week_end") == week_end) & (pl.col("name") == name))
        .select("content")
        .collect()
    )
    return None if hit.is_empty() else bytes(hit["content"][0])


def read_report_files(
    lake_uri: str, week_end: str, storage_options: StorageOptions | None = None
) -> dict[str, bytes]:
    """Every stored file of one week's report, ``{name: content}`` (empty when there is none)."""
    table = open_table(table_uri(lake_uri, REPORTS_TABLE), storage_options)
    if table is None:
        return {}
    hits = (
        pl.scan_delta(table)
        .filter(pl.col("week_end") == week_end)
        .select("name", "content")
        .collect()
    )
    return {name: bytes(content) for name, content in hits.iter_rows()}
