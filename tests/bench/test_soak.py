"""The fast-forward soak, short: Thanksgiving 2026 (CME early close at 13:00 ET, NYSE closed),
faults on about one slot in four, the gateway restarted, an outage, the repair; then the audit
against the simulator's ground-truth log passes, and catches a lost, a duplicated and an
invented row put into the lake behind the collector's back. ``./dev soak`` is the long run."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from ib_futures.core.config import load_config  # noqa: E402
from ib_futures.lake.storage import table_uri  # noqa: E402
from soak.audit import audit, expected_keys  # noqa: E402
from soak.run import SoakRun, run_soak  # noqa: E402

START = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # Thanksgiving, 10:00 ET


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> SoakRun:
    return run_soak(tmp_path_factory.mktemp("soak"), days=0.375, seed=3, start=START,
                    fault_every=4, outage_hours=0.5)  # fmt: skip


def _audit(run: SoakRun) -> object:
    cfg = load_config()
    symbols = {s: cfg.instruments[s].asset_class for s in cfg.collection.instruments}
    return audit(run.lake, run.truth_log, symbols, run.audit_start, run.plan.end, run.alerts,
                 run.maintenance)  # fmt: skip


def test_the_short_soak_loses_duplicates_and_invents_nothing(soak: SoakRun) -> None:
    result = _audit(soak)
    assert result.ok, (result.lost[:5], result.invented[:5], result.differs[:5],
                       result.duplicated[:5], result.unalerted[:5])  # fmt: skip
    assert soak.events["gateway restart"] == 1 and soak.events["outage"] >= 1
    assert len(soak.fault_log) >= 5
    # NYSE is closed on Thanksgiving: futures only, 10:00-13:00 and 18:00-19:00 ET; the four
    # days before are prefilled from history and audited too.
    symbols = {s: load_config().instruments[s].asset_class for s in load_config().collection.instruments}
    assert len(expected_keys(symbols, START, soak.plan.end)) == 3 * (36 + 12)
    assert result.expected > 3 * (36 + 12)
    assert result.rows_history > 0 and result.rows_live > 0  # the outage was repaired from bars


def test_the_audit_catches_what_the_collector_did_not_do(soak: SoakRun) -> None:
    uri = table_uri(soak.lake, "futures_snapshots")
    from deltalake import DeltaTable

    rows = pl.read_delta(uri)
    live = rows.filter(pl.col("price_source") == "live").sort("bucket_ts")
    victim, copied = live.row(0, named=True), live.slice(1, 1)
    DeltaTable(uri).delete(
        f"symbol = '{victim['symbol']}' AND bucket_ts = '{victim['bucket_ts'].isoformat()}'"
    )
    invented = copied.with_columns(pl.col("bucket_ts").dt.offset_by("3h"))  # 13:xx ET: closed
    tampered = copied.with_columns(pl.col("bid") - 1.0, pl.col("ask") - 1.0)
    pl.concat([copied, invented, tampered]).write_delta(uri, mode="append")
    result = _audit(soak)
    assert len(result.lost) == 1 and victim["symbol"] in result.lost[0]
    assert len(result.duplicated) == 2  # the copy and the tampered copy
    assert any("not in the published schedule" in i for i in result.invented)
    assert any("never served" in i for i in result.invented)
