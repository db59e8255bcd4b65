"""Settings of the weekly analysis and the futures/ETF pairs it studies."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: The pairs studied: (futures root symbol, ETF symbol).
PAIRS: tuple[tuple[str, str], ...] = (("ES", "SPY"), ("NQ", "QQQ"), ("RTY", "IWM"))

#: Exchange time zone: regular hours, the trading day and the report are in New York time.
EXCHANGE_TZ = "America/New_York"

#: Length of one slot in minutes (the collection cadence).
SLOT_MINUTES = 5

#: Bump when a definition in docs/analysis.md changes, so old rows can be told apart.
ANALYSIS_VERSION = 1


def pair_name(futures_symbol: str, etf_symbol: str) -> str:
    """The pair key used in the results table, e.g. ``"ES/SPY"``."""
    return f"{futures_symbol}/{etf_symbol}"


@dataclass(frozen=True)
class AnalysisConfig:
    """Every tunable of the analysis; the defaults are the documented ones.

    :param min_pairs: paired 5-minute returns needed before any figure is reported; fewer
        gives ``status="insufficient_data"`` and null figures.
    :param max_lag: cross-correlation is computed for lags ``-max_lag..+max_lag`` slots.
    :param rolling_window: paired returns per rolling-correlation window (39 = half a session).
    :param signal_slots: the next-slot predictor is the futures return over this many slots
        ending one slot before the ETF return it predicts.
    :param min_train_pairs: a walk-forward fold of the next-slot model is fitted only when at
        least this many training pairs precede it.
    :param min_oos: out-of-sample predictions needed before predictive figures are reported.
    :param daily_lookback_days: calendar days of history for the daily (overnight change ->
        open-to-close) model; one observation a day makes a single week far too short.
    :param min_train_days: training days needed before the daily model predicts a day.
    :param min_oos_days: out-of-sample days needed before daily figures are reported.
    :param alpha: significance level for every test.
    :param live_only: use only live quotes (``market_data_type`` 1, or unknown). Delayed data
        lags by minutes (IB: ~15 for US equities, ~10 for CME futures), which would show up as
        a spurious lead; such rows are counted (``*_non_live``) and left out.
    """

    min_pairs: int = 100
    max_lag: int = 12
    rolling_window: int = 39
    signal_slots: int = 1
    min_train_pairs: int = 60
    min_oos: int = 60
    daily_lookback_days: int = 182
    min_train_days: int = 20
    min_oos_days: int = 20
    alpha: float = 0.05
    live_only: bool = True

    def __post_init__(self) -> None:
        if self.max_lag < 1 or self.rolling_window < 3 or self.signal_slots < 1:
            raise ValueError("max_lag >= 1, rolling_window >= 3 and signal_slots >= 1 required")
        if self.min_pairs < 4 or not 0.0 < self.alpha < 1.0:
            raise ValueError("min_pairs >= 4 and 0 < alpha < 1 required")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> AnalysisConfig:
        """Build from a (possibly partial) mapping such as DAG params; unknown keys are errors."""
        return cls(**(values or {}))
