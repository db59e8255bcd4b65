"""The "done when" check: the real ib_async client against the simulator started by the CLI."""

from __future__ import annotations

import math

from ib_async import IB, Future, Stock

from ib_gateway_sim import SimulatorProcess


def test_cli_subprocess_serves_front_month_quotes_and_a_day_of_bars() -> None:
    with SimulatorProcess(start="2026-11-24T15:00:00Z", seed=3) as proc:
        ib = IB()
        ib.RequestTimeout = 5
        ib.connect("127.0.0.1", proc.port, clientId=11, readonly=True, timeout=5)
        try:
            assert ib.client.serverVersion() == 178
            details = ib.reqContractDetails(Future("ES", exchange="CME"))
            front = min(
                details, key=lambda d: d.contract.lastTradeDateOrContractMonth if d.contract else ""
            ).contract
            assert front is not None
            assert front.localSymbol == "ESZ6"
            [es] = ib.qualifyContracts(Future(conId=front.conId, exchange="CME"))
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD", primaryExchange="ARCA"))
            tickers = ib.reqTickers(es, spy)
            for ticker in tickers:
                assert not math.isnan(ticker.bid) and not math.isnan(ticker.ask)
                assert 0 < ticker.bid <= ticker.ask
            bars = ib.reqHistoricalData(es, "", "1 D", "5 mins", "TRADES", useRTH=False, timeout=10)
            # Monday 18:00 ET to Tuesday 10:00 ET: 16 hours of five-minute bars, plus the bar
            # forming since 10:00 (the clock has run on for a moment).
            assert len(bars) in (16 * 12, 16 * 12 + 1)
            assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)
        finally:
            ib.disconnect()


def test_cli_help_names_the_options() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "ib_gateway_sim", "--help"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    for option in ("--host", "--port", "--start", "--seed", "--scenario"):
        assert option in out
