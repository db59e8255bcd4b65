"""The sections of the configuration file, one pydantic model each (see ``core.config``).

Every model is strict, frozen and refuses unknown keys; docs/configuration.md documents each
key. ``core.config`` assembles them into ``FuturesConfig`` and loads the file.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from ib_futures.core.contracts import RollRule
from ib_futures.core.instruments import DEFAULT_INSTRUMENTS, DEFAULT_PAIRS, AssetClass
from ib_futures.core.slot import SLOT_MINUTES
from ib_futures.core.snapshot import MARKET_DATA_TYPES

MarketDataType = Literal["live", "frozen", "delayed", "delayed_frozen"]
MARKET_DATA_TYPE_CODES: dict[str, int] = {name: code for code, name in MARKET_DATA_TYPES.items()}
_BOTH: tuple[AssetClass, ...] = ("FUT", "ETF")
SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
_LEDGER_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --------------------------------------------------------------------------- instruments


class InstrumentSpec(StrictModel):
    """One entry of the ``instruments`` section (see ``core.instruments.Instrument``)."""

    asset_class: AssetClass
    exchange: str = Field(min_length=1)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    multiplier: float = Field(default=1.0, gt=0)
    min_tick: float = Field(default=0.01, gt=0)
    primary_exchange: str | None = None
    etf: str | None = None
    description: str = ""

    @field_validator("etf")
    @classmethod
    def _future_only(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("asset_class") == "ETF":
            raise ValueError(f"only a future names its ETF, got {v!r} on an ETF")
        return v


def default_instrument_specs() -> dict[str, InstrumentSpec]:
    return {
        sym: InstrumentSpec(
            asset_class=i.asset_class,
            exchange=i.exchange,
            currency=i.currency,
            multiplier=i.multiplier,
            min_tick=i.min_tick,
            primary_exchange=i.primary_exchange,
            etf=i.etf,
            description=i.description,
        )
        for sym, i in DEFAULT_INSTRUMENTS.items()
    }


# --------------------------------------------------------------------------- collection


class RollConfig(StrictModel):
    """``collection.roll``: when the front month moves on (``core.contracts.RollRule``)."""

    rule: Literal["second_thursday", "days_before_expiry"] = "second_thursday"
    days: int = Field(default=7, ge=0, le=60)

    def to_rule(self) -> RollRule:
        return RollRule(kind=self.rule, days=self.days)


class HistoryPacingConfig(StrictModel):
    """``collection.history_pacing``: where the ledger of historical requests lives.

    IB's pacing limits count per account, and every Airflow task runs in its own process,
    so all processes that request history must book in one ledger (docs/operations.md,
    "Historical request pacing"): ``file`` for one host, ``postgres`` or ``redis`` (through
    an Airflow connection) for several, ``process`` for a single process or tests.
    """

    ledger: Literal["process", "file", "postgres", "redis"] = "file"
    path: str | None = Field(default=None, validate_default=True)
    conn_id: str | None = Field(default=None, validate_default=True)
    name: str = "default"

    @field_validator("path")
    @classmethod
    def _file_only(cls, v: str | None, info: ValidationInfo) -> str | None:
        ledger = info.data.get("ledger")
        if v is not None and not v.strip():
            raise ValueError("expected a file or directory path, got an empty string")
        if v is not None and ledger is not None and ledger != "file":
            raise ValueError(f"only the file ledger has a path; ledger is {ledger!r}")
        return v

    @field_validator("conn_id")
    @classmethod
    def _store_only(cls, v: str | None, info: ValidationInfo) -> str | None:
        ledger = info.data.get("ledger")
        if v is not None and not v.strip():
            raise ValueError("expected an Airflow connection id, got an empty string")
        if ledger in ("postgres", "redis") and v is None:
            raise ValueError(
                f"the {ledger} ledger needs the id of an Airflow connection of type {ledger}"
            )
        if ledger in ("process", "file") and v is not None:
            raise ValueError(
                f"only the postgres and redis ledgers use a connection; ledger is {ledger!r}"
            )
        return v

    @field_validator("name")
    @classmethod
    def _ledger_name(cls, v: str) -> str:
        if not _LEDGER_NAME.match(v):
            raise ValueError(
                f"expected 1-64 letters, digits or '_.:-' (it names a table row and a Redis "
                f"key), got {v!r}"
            )
        return v


class CollectionConfig(StrictModel):
    """``collection``: what is collected, how often and how."""

    instruments: list[str] = Field(default_factory=lambda: list(DEFAULT_INSTRUMENTS), min_length=1)
    interval_minutes: int = SLOT_MINUTES
    roll: RollConfig = Field(default_factory=RollConfig)
    market_data_type: MarketDataType = "live"
    delayed_fallback: bool = True
    snapshot_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    #: a live snapshot stands for its slot only until this long after it (gateway clock);
    #: later runs fill the slot from IB's historical bars (docs/storage.md, "Provenance")
    max_snapshot_delay_seconds: float = Field(default=75.0, gt=0, lt=SLOT_MINUTES * 60)
    etf_hours: Literal["regular", "extended"] = "regular"
    history_fallback: bool = True
    history_pacing: HistoryPacingConfig = Field(default_factory=HistoryPacingConfig)

    @field_validator("interval_minutes")
    @classmethod
    def _fixed_slot(cls, v: int) -> int:
        # One source of truth for the slot length (core.slot): the cron cadence, validation,
        # history bars and the analysis all assume it, so another value is refused, not
        # half-honoured.
        if v != SLOT_MINUTES:
            raise ValueError(
                f"{v} is not supported: the slot length is fixed at {SLOT_MINUTES} minutes "
                f"(IB's {SLOT_MINUTES}-minute bars fill missed slots, the analysis uses "
                f"{SLOT_MINUTES}-minute returns); leave the key out or set {SLOT_MINUTES}"
            )
        return v

    @property
    def market_data_type_code(self) -> int:
        """IB's ``reqMarketDataType`` code: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen."""
        return MARKET_DATA_TYPE_CODES[self.market_data_type]


# --------------------------------------------------------------------------- session


def _hhmm(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):
        # YAML 1.1 reads an unquoted 23:45 as the base-60 integer 1425.
        raise ValueError(
            f"expected a quoted time 'HH:MM' (YAML reads an unquoted 23:45 as the number "
            f"{23 * 60 + 45}), got {v!r}"
        )
    if isinstance(v, str) and not _HHMM.match(v):
        raise ValueError(f"expected a time 'HH:MM' (00:00-23:59), got {v!r}")
    return v


class TimeWindow(StrictModel):
    """A daily window in ``session.timezone`` local time, ``[start, end)``; may cross midnight."""

    start: str
    end: str
    reason: str = "IB server reset"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _times(cls, v: Any) -> Any:
        return _hhmm(v)

    @field_validator("end")
    @classmethod
    def _not_empty(cls, v: str, info: ValidationInfo) -> str:
        if v == info.data.get("start"):
            raise ValueError(f"{v!r} equals start: the window is empty")
        return v

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)

    def contains(self, local: time) -> bool:
        """Whether the local wall-clock time ``local`` lies in the window."""
        s, e = self.start_time, self.end_time
        if s < e:
            return s <= local < e
        return local >= s or local < e  # crosses midnight

    def describe(self) -> str:
        return f"{self.reason} {self.start}-{self.end}"


def _local_datetime(v: Any) -> Any:
    if isinstance(v, date) and not isinstance(v, datetime):
        return datetime.combine(v, time())
    return v


class ExtraClosure(StrictModel):
    """A one-off closure the calendar library does not know, ``[start, end)`` local time."""

    start: datetime = Field(strict=False)
    end: datetime = Field(strict=False)
    markets: list[AssetClass] = Field(default_factory=lambda: list(_BOTH), min_length=1)
    reason: str = "closure from session.extra_closures"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _dates(cls, v: Any) -> Any:
        return _local_datetime(v)

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, v: datetime) -> datetime:
        if v.tzinfo is not None:
            raise ValueError(
                f"{v.isoformat()} has a UTC offset; give local time in session.timezone"
            )
        return v

    @field_validator("end")
    @classmethod
    def _ordered(cls, v: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and v <= start:
            raise ValueError(f"{v.isoformat()} is not after start {start.isoformat()}")
        return v


class SessionConfig(StrictModel):
    """``session``: which calendars decide when the markets are open."""

    futures_calendar: Literal["CME_Equity", "CME Globex Equity"] = "CME_Equity"
    etf_calendar: Literal["NYSE"] = "NYSE"
    timezone: str = "America/New_York"
    ib_reset_windows: list[TimeWindow] = Field(default_factory=list)
    extra_closures: list[ExtraClosure] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r} (an IANA name such as 'America/New_York')"
            ) from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# --------------------------------------------------------------------------- storage, alerts


class RetentionConfig(StrictModel):
    """``storage.retention``: Delta table maintenance."""

    log_retention_hours: int = Field(default=168, ge=1)
    vacuum_retention_hours: int = Field(default=168, ge=0)
    checkpoint_interval: int = Field(default=50, ge=1)


class StorageConfig(StrictModel):
    """``storage``: where the Delta tables live and how they are kept."""

    lake_uri: str = Field(default=".lake", min_length=1)
    storage_options: dict[str, str] = Field(default_factory=dict)
    on_invalid: Literal["fail", "reject"] = "reject"
    retention: RetentionConfig = Field(default_factory=RetentionConfig)


class NotifierConfig(StrictModel):
    """``alerts.notifier``: who hears about a missed collection."""

    kind: Literal["none", "smtp", "slack"] = "none"
    conn_id: str | None = None
    to: list[str] = Field(default_factory=list, validate_default=True)
    channel: str | None = None

    @field_validator("to")
    @classmethod
    def _addressed(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if not v and info.data.get("kind") == "smtp":
            raise ValueError("an smtp notifier needs at least one recipient address")
        return v


class AlertsConfig(StrictModel):
    """``alerts``: deadline and data-freshness alerts."""

    deadline_minutes: int = Field(default=10, ge=1, le=240)
    freshness_max_missed_slots: int = Field(default=3, ge=1)
    notifier: NotifierConfig = Field(default_factory=NotifierConfig)


class BackfillConfig(StrictModel):
    """``backfill``: how missing slots are asked of IB's history (``futures_backfill``)."""

    #: IB ``durationStr`` one request may span (5-minute bars: IB allows up to 1 W)
    request_window: Literal["1 D", "2 D", "3 D", "4 D", "5 D", "1 W"] = "1 W"
    #: the oldest slot a backfill may ask for, in days before now (IB keeps expired futures
    #: about two years)
    max_age_days: int = Field(default=730, ge=1, le=3650)
    #: most request groups one backfill task fetches (bounds its ib_gateway pool-slot hold)
    groups_per_task: int = Field(default=1, ge=1, le=100)


class RepairConfig(StrictModel):
    """``repair``: the automatic gap repair after each CME session close."""

    lookback_days: int = Field(default=7, ge=1, le=60)


class AnalysisSettings(StrictModel):
    """``analysis``: the weekly futures/ETF study; the one model its code reads.

    The pipeline (``ib_futures.analysis``) takes this model as it is, so a key here means the
    same thing in the YAML file, in the DAG's overrides and in the stored ``config_json``.
    Definitions of every figure: docs/analysis.md.
    """

    pairs: list[list[str]] = Field(default_factory=lambda: [list(p) for p in DEFAULT_PAIRS])
    #: days of data ending at the run's data interval end
    lookback_days: int = Field(default=7, ge=1, le=366)
    #: cross-correlation at lags -max_lag_slots..+max_lag_slots
    max_lag_slots: int = Field(default=12, ge=1, le=288)
    #: paired returns needed before any figure is reported (else ``insufficient_data``)
    min_observations: int = Field(default=100, ge=4)
    #: paired returns per rolling-correlation window (39 = half a regular session)
    rolling_window: int = Field(default=39, ge=3)
    #: the next-slot predictor is the futures return over this many slots
    signal_slots: int = Field(default=1, ge=1)
    #: training pairs before a walk-forward fold of the next-slot model is fitted
    min_train_pairs: int = Field(default=60, ge=2)
    #: out-of-sample predictions before predictive figures are reported
    min_oos: int = Field(default=60, ge=2)
    #: calendar days of history for the daily (overnight -> open-to-close) model
    daily_lookback_days: int = Field(default=182, ge=1, le=3660)
    #: training days before the daily model predicts a day
    min_train_days: int = Field(default=20, ge=2)
    #: out-of-sample days before daily figures are reported
    min_oos_days: int = Field(default=20, ge=2)
    #: significance level of every test
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    #: a test whose HAC variance leaves fewer effective observations reports no p-value
    min_effective_observations: int = Field(default=30, ge=2)
    #: HAC (Newey-West) lags; null: floor(4 (n/100)^(2/9)) for a sample of n
    hac_bandwidth: int | None = Field(default=None, ge=0)
    #: only live quotes (delayed data lags by minutes and would show as a spurious lead)
    live_only: bool = True
    #: use rows filled from IB's historical bars (point-in-time values of their slot)
    include_history: bool = True
    report_dir: str = Field(default="reports", min_length=1)

    @field_validator("pairs")
    @classmethod
    def _two_each(cls, v: list[list[str]]) -> list[list[str]]:
        for i, pair in enumerate(v):
            if len(pair) != 2:
                raise ValueError(f"entry [{i}] must be [FUTURE, ETF], got {pair!r}")
        return v

    def pair_tuples(self) -> list[tuple[str, str]]:
        return [(p[0], p[1]) for p in self.pairs]

    def tunables(self) -> dict[str, Any]:
        """The settings that change a figure (stored with each result row)."""
        return self.model_dump(exclude={"pairs", "lookback_days", "report_dir"})
