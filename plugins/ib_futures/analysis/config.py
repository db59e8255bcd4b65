"""Constants of the weekly analysis. Its settings are ``core.config.AnalysisSettings``.

The settings model lives with the rest of the configuration (the ``analysis`` section of
``futures_config.yaml``), so one set of names serves the file, the DAG and the stored results;
the pipeline reads that model directly. The slot length is ``core.slot.SLOT_MINUTES``.
"""

from __future__ import annotations

from ib_futures.core.config_sections import AnalysisSettings
from ib_futures.core.instruments import DEFAULT_PAIRS

__all__ = ["ANALYSIS_VERSION", "DEFAULT_PAIRS", "EXCHANGE_TZ", "AnalysisSettings", "pair_name"]

#: Exchange time zone: regular hours, the trading day and the report are in New York time.
EXCHANGE_TZ = "America/New_York"

#: Bump when a definition in docs/analysis.md changes, so old rows can be told apart.
#: 2: ``config_json`` carries the configuration's own names (max_lag_slots, min_observations).
#: 3: every p-value, interval and band is HAC-robust (docs/analysis.md, "Inference"); the hit
#:    rate is tested as a correlation of directions, not with a binomial test.
ANALYSIS_VERSION = 3


def pair_name(futures_symbol: str, etf_symbol: str) -> str:
    """The pair key used in the results table, e.g. ``"ES/SPY"``."""
    return f"{futures_symbol}/{etf_symbol}"
