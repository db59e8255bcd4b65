"""Operators of the weekly ``futures_analysis_weekly`` DAG: thin shells over ``ib_futures.analysis``.

* :class:`PairAnalysisOperator` -> :func:`ib_futures.analysis.pipeline.run_pair` (one pair)
* :class:`AnalysisResultsOperator` -> :func:`ib_futures.analysis.results.write_results`
* :class:`AnalysisReportOperator` -> :func:`ib_futures.analysis.report.write_report`

The window is always derived from the run (its data interval end, else ``run_after``), never
from the wall clock, so a re-run or a backfill of a week computes the same figures. The lake
arguments are :class:`~ib_futures.airflow.operators.base.LakeBaseOperator`'s. polars, numpy,
deltalake and matplotlib are imported inside ``execute``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ib_futures.airflow.operators.base import LakeBaseOperator, as_int, lake_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context

    from ib_futures.core.config import AnalysisSettings


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


class PairAnalysisOperator(LakeBaseOperator):
    """The week's tracking, lead-lag, predictive-value, basis and coverage figures of one pair.

    :param pair: ``[futures_symbol, etf_symbol]`` (templated; the DAG maps over the pairs).
    :param lookback_days: window length in days ending at the data interval end (templated;
        default: the config's ``analysis.lookback_days``).
    :param analysis_overrides: ``analysis`` settings that replace the config's for this task,
        by the config's own names, e.g. ``{"max_lag_slots": 6}`` (templated; validated).
    :return: the pair's flat results row (a dict: the ``futures_analysis`` columns), pushed to
        XCom; ``status`` is ``insufficient_data`` (with ``reason``) when there was too little data.
    """

    template_fields: Sequence[str] = lake_template_fields("pair", "lookback_days", "analysis_overrides")
    ui_color = "#e8f0fa"

    def __init__(self, *, pair: Sequence[str], lookback_days: int | str | None = None,
                 analysis_overrides: Mapping[str, Any] | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.pair, self.lookback_days, self.analysis_overrides = pair, lookback_days, analysis_overrides

    def settings(self) -> AnalysisSettings:
        """The config's ``analysis`` section with this task's overrides, validated."""
        from ib_futures.core.config import AnalysisSettings

        base = self.config.analysis.model_dump()
        return AnalysisSettings.model_validate({**base, **dict(self.analysis_overrides or {})})

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.analysis.pipeline import run_pair

        futures_symbol, etf_symbol = list(self.pair)
        settings = self.settings()
        days = settings.lookback_days if self.lookback_days in (None, "") else self.lookback_days
        start, end = analysis_window(context, as_int(days, "lookback_days"))
        self.log.info("%s/%s: window [%s, %s)", futures_symbol, etf_symbol, start, end)
        row = run_pair(
            self.lake.uri, futures_symbol, etf_symbol, start, end, settings,
            storage_options=self.lake.storage_options,
        )  # fmt: skip
        self.log.info("%s", row["summary"])
        return row


class AnalysisResultsOperator(LakeBaseOperator):
    """Write the week's rows to ``futures_analysis`` (a re-run replaces them, never duplicates).

    :param rows: the pair rows (templated; the mapped analysis task's output).
    :return: ``{"table", "version", "week_end", "pairs", "statuses"}``, pushed to XCom.
    """

    template_fields: Sequence[str] = lake_template_fields("rows")
    ui_color = "#e8f0fa"

    def __init__(self, *, rows: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows = rows

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.analysis.results import store_week

        # a slice fetches a mapped task's whole output in one request (iterating probes past
        # the end, which the task SDK logs as an error)
        rows = [dict(r) for r in (self.rows or [])[:]]
        if not rows:
            raise ValueError("no analysis rows reached the results task")
        written = store_week(self.lake.uri, rows, storage_options=self.lake.storage_options)
        self.log.info("wrote %d rows (weeks %s) to %s, version %d",
                      len(rows), written["weeks"], written["table"], written["version"])
        return written


class AnalysisReportOperator(LakeBaseOperator):
    """Render the week's report (HTML with inlined charts, plus the PNGs) from the table.

    Reads the stored rows (so the report shows exactly what ``futures_analysis`` holds) and
    stores the files in the lake's ``weekly_reports`` table (``ib_futures.lake.reports``),
    where the futures page reads them, local lake or object store alike.

    :param week_end: ``YYYY-MM-DD`` (templated; the results task's ``week_end``).
    :param pairs: limit to these pairs (templated; None: every pair of that week).
    :return: ``{"table", "week_end", "version", "html", "charts"}``, pushed to XCom.
    """

    template_fields: Sequence[str] = lake_template_fields("week_end", "pairs")
    ui_color = "#e8f0fa"

    def __init__(self, *, week_end: str, pairs: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.week_end, self.pairs = week_end, pairs

    def execute(self, context: Context) -> dict[str, Any]:
        from ib_futures.analysis.report import write_weekly_report

        files = write_weekly_report(
            self.lake.uri, str(self.week_end), self.pairs or None,
            storage_options=self.lake.storage_options,
        )  # fmt: skip
        self.log.info("report of %s stored in %s/%s, version %d (%d charts)",
                      files.week_end, self.lake.uri, files.table, files.version, len(files.charts))
        return files.as_dict()
