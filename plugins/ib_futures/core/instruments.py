"""The instruments collected: CME equity-index futures and the ETFs they track.

An :class:`Instrument` is everything the rest of the package needs to know about a symbol
without asking IB: how to build the contract (exchange, currency, primary exchange), the
contract specification (multiplier, minimum tick) and the futures/ETF pairing.

The built-in definitions (``DEFAULT_INSTRUMENTS``) are the contract facts of
docs/ib-protocol.md section 3:

* ES (E-mini S&P 500): $50 x index, tick 0.25, tracks SPY.
* NQ (E-mini Nasdaq-100): $20 x index, tick 0.25, tracks QQQ.
* RTY (E-mini Russell 2000): $50 x index, tick 0.10, tracks IWM.
* SPY and IWM list on NYSE Arca, QQQ on Nasdaq; all three are routed through SMART, and IB
  needs the primary exchange to tell the listing apart.

Futures trade on ``CME`` (IB answers error 200 for the old ``GLOBEX`` exchange name).
The configuration (``core.config``) can add instruments or replace these definitions; build
the records the rest of the code uses with :func:`instruments_from_config`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ib_futures.core.snapshot import AssetClass

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig

__all__ = [
    "DEFAULT_INSTRUMENTS",
    "DEFAULT_PAIRS",
    "AssetClass",
    "Instrument",
    "collected_instruments",
    "etf_pairs",
    "get_instrument",
    "instruments_from_config",
    "select_instruments",
]


@dataclass(frozen=True)
class Instrument:
    """One tradable instrument as configured.

    :param symbol: root symbol (``ES``) or ticker (``SPY``); the key of every row.
    :param asset_class: ``"FUT"`` (rows go to ``futures_snapshots``) or ``"ETF"``
        (``spot_snapshots``).
    :param exchange: IB exchange: ``CME`` for the futures, ``SMART`` for the ETFs.
    :param currency: ``USD``.
    :param multiplier: contract multiplier (dollars per index point); 1 for ETFs.
    :param min_tick: minimum price increment.
    :param primary_exchange: listing exchange of an ETF (``ARCA``, ``NASDAQ``); ``None`` for
        futures.
    :param etf: for a future, the ETF it is paired with (``ES`` -> ``SPY``); ``None`` otherwise.
    :param description: human name, for logs and reports.
    """

    symbol: str
    asset_class: AssetClass
    exchange: str
    currency: str = "USD"
    multiplier: float = 1.0
    min_tick: float = 0.01
    primary_exchange: str | None = None
    etf: str | None = None
    description: str = ""

    @property
    def is_future(self) -> bool:
        return self.asset_class == "FUT"

    @property
    def ib_multiplier(self) -> str:
        """The multiplier as IB's contract field wants it (``"50"``, not ``"50.0"``)."""
        m = self.multiplier
        return str(int(m)) if float(m).is_integer() else str(m)

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "asset_class": self.asset_class,
            "exchange": self.exchange,
            "currency": self.currency,
            "multiplier": self.multiplier,
            "min_tick": self.min_tick,
            "primary_exchange": self.primary_exchange,
            "etf": self.etf,
            "description": self.description,
        }


DEFAULT_INSTRUMENTS: dict[str, Instrument] = {
    "ES": Instrument(
        "ES", "FUT", "CME", multiplier=50.0, min_tick=0.25, etf="SPY",
        description="E-mini S&P 500 futures",
    ),
    "NQ": Instrument(
        "NQ", "FUT", "CME", multiplier=20.0, min_tick=0.25, etf="QQQ",
        description="E-mini Nasdaq-100 futures",
    ),
    "RTY": Instrument(
        "RTY", "FUT", "CME", multiplier=50.0, min_tick=0.10, etf="IWM",
        description="E-mini Russell 2000 futures",
    ),
    "SPY": Instrument(
        "SPY", "ETF", "SMART", primary_exchange="ARCA", description="SPDR S&P 500 ETF"
    ),
    "QQQ": Instrument(
        "QQQ", "ETF", "SMART", primary_exchange="NASDAQ", description="Invesco QQQ (Nasdaq-100)"
    ),
    "IWM": Instrument(
        "IWM", "ETF", "SMART", primary_exchange="ARCA", description="iShares Russell 2000 ETF"
    ),
}  # fmt: skip
"""The six built-in instruments, futures first."""

DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (("ES", "SPY"), ("NQ", "QQQ"), ("RTY", "IWM"))
"""(future, ETF) pairs the analysis studies by default."""


def instruments_from_config(cfg: FuturesConfig | None = None) -> dict[str, Instrument]:
    """Every defined instrument (built-ins merged with the config's), keyed by symbol."""
    if cfg is None:
        return dict(DEFAULT_INSTRUMENTS)
    return {
        symbol: Instrument(
            symbol=symbol,
            asset_class=spec.asset_class,
            exchange=spec.exchange,
            currency=spec.currency,
            multiplier=spec.multiplier,
            min_tick=spec.min_tick,
            primary_exchange=spec.primary_exchange,
            etf=spec.etf,
            description=spec.description,
        )
        for symbol, spec in cfg.instruments.items()
    }


def collected_instruments(
    cfg: FuturesConfig | None = None, asset_class: AssetClass | None = None
) -> list[Instrument]:
    """The instruments ``collection.instruments`` lists, in that order (optionally one class)."""
    defined = instruments_from_config(cfg)
    symbols: Iterable[str] = (
        cfg.collection.instruments if cfg is not None else list(DEFAULT_INSTRUMENTS)
    )
    out = [defined[s] for s in symbols]
    return [i for i in out if asset_class is None or i.asset_class == asset_class]


def get_instrument(symbol: str, cfg: FuturesConfig | None = None) -> Instrument:
    """The instrument ``symbol``; ``KeyError`` naming the known symbols otherwise."""
    defined = instruments_from_config(cfg)
    try:
        return defined[symbol]
    except KeyError:
        raise KeyError(f"unknown instrument {symbol!r} (known: {', '.join(defined)})") from None


def etf_pairs(cfg: FuturesConfig | None = None) -> list[tuple[Instrument, Instrument]]:
    """The (future, ETF) pairs of ``analysis.pairs`` as instrument records."""
    defined: Mapping[str, Instrument] = instruments_from_config(cfg)
    pairs = cfg.analysis.pair_tuples() if cfg is not None else DEFAULT_PAIRS
    return [(defined[f], defined[e]) for f, e in pairs]


def select_instruments(
    cfg: FuturesConfig | None = None, symbols: str | Iterable[str] | None = None
) -> list[Instrument]:
    """The instruments to collect: ``symbols`` (a list, or a string such as ``"ES,SPY"``) or,
    when ``None``/empty, ``collection.instruments``. Unknown symbols raise ``ValueError``
    naming them and the known ones; the order given is kept, duplicates dropped."""
    if symbols is None:
        return collected_instruments(cfg)
    if isinstance(symbols, str):
        symbols = [s for s in symbols.replace(",", " ").split() if s]
    wanted = list(dict.fromkeys(s.strip().upper() for s in symbols))
    if not wanted:
        return collected_instruments(cfg)
    defined = instruments_from_config(cfg)
    unknown = [s for s in wanted if s not in defined]
    if unknown:
        raise ValueError(
            f"unknown instrument(s) {', '.join(map(repr, unknown))} (known: {', '.join(defined)})"
        )
    return [defined[s] for s in wanted]
