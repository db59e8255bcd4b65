"""The seeded price model: determinism, purity, realism and the planted ETF lead-lag signal."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from ib_async import IB, Future, Stock

from ib_gateway_sim import PriceModel, PriceModelConfig
from ib_gateway_sim.contracts import ContractBook, SimContract, stock_contract
from ib_gateway_sim.prices import SLOT_SECONDS
from ib_gateway_sim.schedules import US_RTH

BOOK = ContractBook()
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def es_front(at: datetime = T0) -> SimContract:
    return BOOK.front_month("ES", at)


def rth_slot_returns(model: PriceModel, contract: SimContract, days: int) -> list[tuple[datetime, float]]:
    out = []
    start = datetime(2026, 10, 1, tzinfo=UTC)
    for session in US_RTH.sessions_between(start, start + timedelta(days=days)):
        t = session.start
        while t < session.end:
            nxt = t + timedelta(seconds=SLOT_SECONDS)
            out.append((t, math.log(model.raw_price(contract, nxt) / model.raw_price(contract, t))))
            t = nxt
    return out


def corr(xs: list[float], ys: list[float]) -> float:
    return statistics.correlation(xs, ys)


def lagged_correlation(model: PriceModel, etf: str, lag: int, days: int = 30) -> float:
    fut = dict(rth_slot_returns(model, es_front(datetime(2026, 10, 1, tzinfo=UTC)), days))
    spot = dict(rth_slot_returns(model, stock_contract(etf), days))
    step = timedelta(seconds=SLOT_SECONDS * lag)
    pairs = [(spot[t], fut[t - step]) for t in spot if t - step in fut]
    return corr([p[0] for p in pairs], [p[1] for p in pairs])


def test_same_seed_same_prices_other_seed_other_prices() -> None:
    a, b, c = PriceModel(PriceModelConfig(seed=1)), PriceModel(PriceModelConfig(seed=1)), PriceModel(PriceModelConfig(seed=2))
    assert a.raw_price(es_front(), T0) == b.raw_price(es_front(), T0)
    assert a.raw_price(es_front(), T0) != c.raw_price(es_front(), T0)


def test_prices_are_a_pure_function_of_time() -> None:
    fresh = PriceModel(PriceModelConfig(seed=5))
    warmed = PriceModel(PriceModelConfig(seed=5))
    for year in (2030, 2021, 2027):
        warmed.raw_price(stock_contract("QQQ"), datetime(year, 6, 2, 15, tzinfo=UTC))
    past = datetime(2024, 3, 5, 15, 7, 13, tzinfo=UTC)
    assert fresh.raw_price(stock_contract("QQQ"), past) == warmed.raw_price(stock_contract("QQQ"), past)


def test_path_is_continuous_and_flat_while_closed() -> None:
    model = PriceModel()
    contract = es_front()
    midnight = datetime(2026, 11, 25, tzinfo=UTC)
    before, after = model.raw_price(contract, midnight - timedelta(seconds=1)), model.raw_price(contract, midnight)
    assert abs(after / before - 1) < 1e-4
    friday_close = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    weekend = [model.index_price("ES", friday_close + timedelta(hours=h)) for h in (0, 10, 30, 44)]
    assert weekend == pytest.approx([weekend[0]] * 4, rel=1e-12)


@pytest.mark.parametrize(("root", "low", "high"), [("ES", 5200, 8800), ("NQ", 19000, 32000), ("RTY", 1900, 3200)])
def test_levels_stay_realistic_for_years(root: str, low: float, high: float) -> None:
    model = PriceModel(PriceModelConfig(seed=11))
    for year in range(2024, 2030):
        assert low < model.index_price(root, datetime(year, 5, 5, 15, tzinfo=UTC)) < high


def test_annualised_volatility_is_realistic() -> None:
    model = PriceModel(PriceModelConfig(seed=3))
    returns = [r for _, r in rth_slot_returns(model, es_front(datetime(2026, 10, 1, tzinfo=UTC)), 60)]
    vol = statistics.pstdev(returns) * math.sqrt(252 * 23 * 12)
    assert 0.12 < vol < 0.22


def test_etf_follows_its_future_one_slot_later() -> None:
    model = PriceModel(PriceModelConfig(seed=4))
    assert model.planted_signal() == {"lag_slots": 1.0, "lag_minutes": 5.0, "correlation": 0.9, "beta": 1.0}
    assert lagged_correlation(model, "SPY", lag=1) == pytest.approx(0.9, abs=0.03)
    assert abs(lagged_correlation(model, "SPY", lag=0)) < 0.1


def test_lead_lag_and_correlation_are_configurable() -> None:
    model = PriceModel(PriceModelConfig(seed=4, etf_lag_slots=2, etf_correlation=0.6))
    assert lagged_correlation(model, "SPY", lag=2) == pytest.approx(0.6, abs=0.05)
    assert abs(lagged_correlation(model, "SPY", lag=1)) < 0.1


def test_bars_from_ib_async_carry_the_planted_signal(ib_client: IB) -> None:
    es, spy = ib_client.qualifyContracts(Future("ES", "202612", "CME"), Stock("SPY", "SMART", "USD"))
    assert es is not None and spy is not None
    fut = ib_client.reqHistoricalData(es, "", "1 W", "5 mins", "TRADES", True, formatDate=2, timeout=10)
    etf = ib_client.reqHistoricalData(spy, "", "1 W", "5 mins", "TRADES", True, formatDate=2, timeout=10)
    fut_ret = {b.date: math.log(b.close / b.open) for b in fut}
    etf_ret = {b.date: math.log(b.close / b.open) for b in etf}
    step = timedelta(minutes=5)
    pairs = [(etf_ret[t], fut_ret[t - step]) for t in etf_ret if t - step in fut_ret]  # type: ignore[operator]
    assert len(pairs) > 200
    # Bar prices are tick-rounded, which shaves a little off the planted 0.9.
    assert corr([p[0] for p in pairs], [p[1] for p in pairs]) > 0.75
