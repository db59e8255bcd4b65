import json
import math
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ib_futures.core.snapshot import (
    RECORD_KEYS,
    Snapshot,
    clean_price,
    clean_size,
    reference_price,
)


@pytest.mark.parametrize("value", [None, math.nan, -1, 0, 0.0, math.inf])
def test_ib_missing_prices_are_none_never_zero(value):
    assert clean_price(value) is None


def test_sizes_keep_zero_but_not_ib_unset():
    assert clean_size(0) == 0.0
    assert clean_size(-1) is None and clean_size(math.nan) is None


def test_reference_price_is_mid_unless_crossed():
    assert reference_price(10.0, 10.5, 10.4) == 10.25
    assert reference_price(10.6, 10.5, 10.4) == 10.4  # crossed: fall back to last
    assert reference_price(None, 10.5, None) is None


def snap(**kw):
    base = dict(symbol="ES", asset_class="FUT", bucket_ts=datetime(2026, 11, 24, 15, tzinfo=UTC),
                collected_ts=datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC), con_id=1,
                local_symbol="ESZ6", exchange="CME", currency="USD", market_data_type=1,
                expiry=date(2026, 12, 18), bid=6800.0, ask=6800.25, last=6800.25)
    base.update(kw)
    return Snapshot(**base)


def test_record_is_json_with_every_key_in_utc():
    eastern = timezone(timedelta(hours=-5))
    rec = snap(bucket_ts=datetime(2026, 11, 24, 10, tzinfo=eastern)).to_record()
    assert tuple(rec) == RECORD_KEYS or set(rec) == set(RECORD_KEYS)
    assert rec["bucket_ts"] == "2026-11-24T15:00:00+00:00" and rec["bucket_date"] == "2026-11-24"
    assert rec["expiry"] == "2026-12-18" and rec["price"] == 6800.125 and rec["crossed"] is False
    json.dumps(rec)


def test_crossed_quote_is_flagged_and_not_priced_from_the_mid():
    rec = snap(bid=6801.0, ask=6800.0, last=6800.5).to_record()
    assert rec["crossed"] is True and rec["price"] == 6800.5


def test_naive_slot_is_refused():
    with pytest.raises(ValueError, match="naive"):
        snap(bucket_ts=datetime(2026, 11, 24, 15)).to_record()
