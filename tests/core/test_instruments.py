import pytest

from ib_futures.core.config import FuturesConfig, parse_config
from ib_futures.core.instruments import (
    DEFAULT_INSTRUMENTS,
    collected_instruments,
    etf_pairs,
    get_instrument,
    instruments_from_config,
    select_instruments,
)


def test_defaults_are_the_contract_facts():
    es, nq, rty = (DEFAULT_INSTRUMENTS[s] for s in ("ES", "NQ", "RTY"))
    assert (es.multiplier, es.min_tick, es.etf, es.exchange) == (50, 0.25, "SPY", "CME")
    assert (nq.multiplier, nq.min_tick, nq.etf) == (20, 0.25, "QQQ")
    assert (rty.multiplier, rty.min_tick, rty.etf) == (50, 0.10, "IWM")
    assert es.ib_multiplier == "50"
    primaries = {s: DEFAULT_INSTRUMENTS[s].primary_exchange for s in ("SPY", "QQQ", "IWM")}
    assert primaries == {"SPY": "ARCA", "QQQ": "NASDAQ", "IWM": "ARCA"}
    assert all(DEFAULT_INSTRUMENTS[s].exchange == "SMART" for s in primaries)


def test_built_from_config_equal_defaults():
    assert instruments_from_config(FuturesConfig()) == DEFAULT_INSTRUMENTS
    assert instruments_from_config(None) == DEFAULT_INSTRUMENTS


def test_collected_in_config_order_and_by_class():
    cfg = parse_config({"collection": {"instruments": ["SPY", "ES"]}})
    assert [i.symbol for i in collected_instruments(cfg)] == ["SPY", "ES"]
    assert [i.symbol for i in collected_instruments(cfg, "FUT")] == ["ES"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(None, ["ES", "NQ", "RTY", "SPY", "QQQ", "IWM"], id="default"),
        pytest.param([], ["ES", "NQ", "RTY", "SPY", "QQQ", "IWM"], id="empty"),
        pytest.param("es, spy", ["ES", "SPY"], id="string"),
        pytest.param(["NQ", "NQ", "QQQ"], ["NQ", "QQQ"], id="dedup"),
    ],
)
def test_select_instruments(given, expected):
    assert [i.symbol for i in select_instruments(FuturesConfig(), given)] == expected


def test_unknown_symbol_is_named():
    with pytest.raises(ValueError, match=r"'XYZ' \(known: ES, NQ"):
        select_instruments(None, ["ES", "XYZ"])
    with pytest.raises(KeyError, match="unknown instrument 'ABC'"):
        get_instrument("ABC")


def test_pairs():
    pairs = etf_pairs(FuturesConfig())
    assert [(f.symbol, e.symbol) for f, e in pairs] == [
        ("ES", "SPY"),
        ("NQ", "QQQ"),
        ("RTY", "IWM"),
    ]
    assert all(f.is_future and not e.is_future for f, e in pairs)
