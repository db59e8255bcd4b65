"""Operators of the weekly ``futures_analysis_weekly`` DAG: thin shells over ``ib_futures.analysis``.

* :class:`PairAnalysisOperator` -> :func:`ib_futures.analysis.pipeline.run_pair` (one pair)
* :class:`AnalysisResultsOperator` -> :func:`ib_futures.analysis.results.write_results`
* :class:`AnalysisReportOperator` -> :func:`ib_futures.analysis.report.write_report`

The window is always derived from the run (its data interval end, else ``run_after``), never
from the wall clock, so a re-run or a backfill of a week computes the same figures. polars,
numpy, scipy, deltalake and matplotlib are imported inside ``execute``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from ib_futures.operators.delta import as_int, lake_storage_options

if TYPE_CHECKING:
    from airflow.sdk import Context


def analysis_window(context: Mapping[str, Any], lookback_days: int) -> tuple[datetime, datetime]:
    """``[end - lookback_days, end)`` with ``end`` the run's data interval end.

    A run without a data interval (a manual run with no logical date) uses its ``run_after``.
    """
    end = context.get("data_interval_end")
    if end is None:
        dag_run = context.get("dag_run")
        end = getattr(dag_run, "run_after", None)
    if end is None:
        raise ValueError("the run has neither a data interval end nor run_after")
    if lookback_days < 1:
        raise ValueError(f"lookback_days={lookback_days} must be >= 1")
    return end - timedelta(days=lookback_days), end


def _resolve_lake(lake_uri: str | None) -> str:
    from ib_futures.lake.storage import resolve_lake_uri

    return resolve_lake_uri(lake_uri)


class PairAnalysisOperator(BaseOperator):
    """The week's tracking, lead-lag, predictive-value, basis and coverage figures of one pair.

    :param pair: ``[futures_symbol, etf_symbol]`` (templated; the DAG maps over the pairs).
    :param lake_uri: lake root (templated); ``IB_FUTURES_LAKE_URI`` overrides it when set.
    :param lookback_days: window length in days ending at the data interval end (templated).
    :param analysis_config: :class:`~ib_futures.analysis.config.AnalysisConfig` fields (templated).
    :param aws_conn_id: AWS-style connection for an ``s3://`` lake (templated).
    :param storage_options: non-secret object-store options (templated).
    :return: the pair's flat results row (a dict: the ``futures_analysis`` columns), pushed to
        XCom; ``status`` is ``insufficient_data`` (with ``reason``) when there was too little data.
    """

    template_fields: Sequence[str] = (
        "pair",
        "lake_uri",
        "lookback_days",
        "analysis_config",
        "aws_conn_id",
        "storage_options",
    )
    ui_color = "#e8f0fa"

    def __init__(
        self,
        *,
        pair: Sequence[str],
        lake_uri: str | None = None,
        lookback_days: int | str = 7,
        analysis_config: Mapping[str, Any] | None = None,
        aws_conn_id: str | None = None,
        storage_options: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pair = pair
        self.lake_uri = lake_uri
        self.lookback_days = lookback_days
        self.analysis_config = analysis_config
        self.aws_conn_id = aws_conn_id
        self.storage_options = storage_options

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.analysis.config import AnalysisConfig
        from ib_futures.analysis.pipeline import run_pair

        futures_symbol, etf_symbol = list(self.pair)
        start, end = analysis_window(context, as_int(self.lookback_days, "lookback_days"))
        lake_uri = _resolve_lake(self.lake_uri)
        config = AnalysisConfig.from_dict(dict(self.analysis_config or {}))
        self.log.info(
            "%s/%s: window [%s, %s) from %s", futures_symbol, etf_symbol, start, end, lake_uri
        )
        row = run_pair(
            lake_uri,
            futures_symbol,
            etf_symbol,
            start,
            end,
            config,
            storage_options=lake_storage_options(lake_uri, self.aws_conn_id, self.storage_options),
        )
        self.log.info("%s", row["summary"])
        return row


class AnalysisResultsOperator(BaseOperator):
    """Write the week's rows to ``futures_analysis`` (a re-run replaces them, never duplicates).

    :param rows: the pair rows (templated; the mapped analysis task's output).
    :param lake_uri: lake root (templated); ``IB_FUTURES_LAKE_URI`` overrides it when set.
    :param aws_conn_id: as in :class:`PairAnalysisOperator` (templated).
    :param storage_options: as in :class:`PairAnalysisOperator` (templated).
    :return: ``{"table", "version", "week_end", "pairs", "statuses"}``, pushed to XCom.
    """

    template_fields: Sequence[str] = ("rows", "lake_uri", "aws_conn_id", "storage_options")
    ui_color = "#e8f0fa"

    def __init__(
        self,
        *,
        rows: Any,
        lake_uri: str | None = None,
        aws_conn_id: str | None = None,
        storage_options: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rows = rows
        self.lake_uri = lake_uri
        self.aws_conn_id = aws_conn_id
        self.storage_options = storage_options

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.analysis.results import RESULTS_TABLE, write_results
        from ib_futures.lake.storage import table_uri

        # a slice fetches a mapped task's whole output in one request (iterating probes past
        # the end, which the task SDK logs as an error)
        rows = [dict(r) for r in (self.rows or [])[:]]
        if not rows:
            raise ValueError("no analysis rows reached the results task")
        lake_uri = _resolve_lake(self.lake_uri)
        options = lake_storage_options(lake_uri, self.aws_conn_id, self.storage_options)
        version = write_results(lake_uri, rows, storage_options=options)
        weeks = sorted({str(r["week_end"]) for r in rows})
        self.log.info(
            "wrote %d rows (weeks %s) to %s, version %d",
            len(rows), weeks, table_uri(lake_uri, RESULTS_TABLE), version,
        )  # fmt: skip
        return {
            "table": table_uri(lake_uri, RESULTS_TABLE),
            "version": version,
            "week_end": weeks[-1],
            "pairs": [r["pair"] for r in rows],
            "statuses": {r["pair"]: r["status"] for r in rows},
        }


class AnalysisReportOperator(BaseOperator):
    """Render the week's report (HTML with inlined charts, plus the PNGs) from the table.

    Reads the stored rows (so the report shows exactly what ``futures_analysis`` holds) and
    writes to ``<lake>/reports/futures_analysis/<week_end>/``; for an object-store lake, to
    ``<report_dir>/futures_analysis/<week_end>/`` on the worker's disk instead, and says so.

    :param week_end: ``YYYY-MM-DD`` (templated; the results task's ``week_end``).
    :param pairs: limit to these pairs (templated; None: every pair of that week).
    :param lake_uri: lake root (templated); ``IB_FUTURES_LAKE_URI`` overrides it when set.
    :param report_dir: local directory for object-store lakes (templated; default
        ``IB_FUTURES_REPORT_DIR`` else ``./reports``).
    :return: ``{"directory", "html", "charts", "local_fallback"}``, pushed to XCom.
    """

    template_fields: Sequence[str] = (
        "week_end",
        "pairs",
        "lake_uri",
        "report_dir",
        "aws_conn_id",
        "storage_options",
    )
    ui_color = "#e8f0fa"

    def __init__(
        self,
        *,
        week_end: str,
        pairs: Sequence[str] | None = None,
        lake_uri: str | None = None,
        report_dir: str | None = None,
        aws_conn_id: str | None = None,
        storage_options: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.week_end = week_end
        self.pairs = pairs
        self.lake_uri = lake_uri
        self.report_dir = report_dir
        self.aws_conn_id = aws_conn_id
        self.storage_options = storage_options

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.analysis.report import write_report
        from ib_futures.analysis.results import read_results

        lake_uri = _resolve_lake(self.lake_uri)
        options = lake_storage_options(lake_uri, self.aws_conn_id, self.storage_options)
        rows = read_results(
            lake_uri, str(self.week_end), self.pairs or None, storage_options=options
        ).to_dicts()
        if not rows:
            raise ValueError(f"futures_analysis has no rows for week_end={self.week_end}")
        files = write_report(lake_uri, rows, local_dir=self.report_dir or None)
        if files.local_fallback:
            self.log.warning(
                "lake %s is an object store: report written to local disk %s",
                lake_uri, files.directory,
            )  # fmt: skip
        for row in rows:
            self.log.info("%s", row["summary"])
        self.log.info("report: %s (%d charts)", files.html, len(files.charts))
        return files.as_dict()
