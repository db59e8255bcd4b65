"""The predictive-value blocks of the result row: the next-slot and the open-to-close model.

Split from :mod:`.columns` (which holds the other blocks and :class:`~.columns.PairInputs`);
the pipeline merges these blocks in the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ib_futures.analysis.columns import INSUFFICIENT, OK, PairInputs, iso_utc, thin_index, to_json
from ib_futures.analysis.overnight import overnight_samples
from ib_futures.analysis.predictive import PredictiveResult, evaluate
from ib_futures.analysis.stats import as_float


def _predictive_columns(prefix: str, res: PredictiveResult) -> dict[str, Any]:
    cols: dict[str, Any] = {
        f"{prefix}_status": res.status,
        f"{prefix}_reason": res.reason,
        f"{prefix}_n_samples": res.n_samples,
        f"{prefix}_n_oos": res.n_oos,
        f"{prefix}_folds": res.folds,
        f"{prefix}_hit_n": res.hit_n,
    }
    for name in (
        "hit_rate",
        "base_rate",
        "hit_p",
        "ic",
        "ic_p",
        "mz_slope",
        "mz_t",
        "mz_p",
        "mz_r2",
        "r2_oos",
        "r2_oos_p",
        "n_eff",
        "model_slope",
    ):
        cols[f"{prefix}_{name}"] = as_float(getattr(res, name))
    return cols


def _oos_json(res: PredictiveResult, labels: list[str]) -> str | None:
    walk = res.walk
    if res.status != OK or walk is None:
        return None
    keep = thin_index(walk.pred.size)
    return to_json(
        {
            "at": [labels[i] for i in walk.index[keep]],
            "pred": walk.pred[keep].tolist(),
            "real": walk.real[keep].tolist(),
        }
    )


def next_slot_columns(inp: PairInputs, enough: bool, reason: str | None) -> dict[str, Any]:
    """Predictive value of the previous slot(s) of futures for the ETF's next slot.

    :param reason: the row's ``reason``; without enough paired returns the model is not run and
        its status repeats it.
    """
    cfg, pr = inp.cfg, inp.returns
    signal = pr.futures_signal(cfg.signal_slots)
    labels = iso_utc(pr.etf_ts)
    if enough:
        next_slot = evaluate(
            signal,
            pr.etf_ret,
            pr.etf_day,
            min_train=cfg.min_train_pairs,
            min_oos=cfg.min_oos,
            what="next slot",
            opts=inp.opts,
        )
    else:
        next_slot = PredictiveResult(INSUFFICIENT, reason, inp.n_pairs, 0, 0)
    # evaluate() drops samples without a signal or a return, and the walk's indices count the
    # rest: label exactly those
    ok = np.isfinite(signal) & np.isfinite(pr.etf_ret)
    return {
        "next_slot_signal_slots": cfg.signal_slots,
        **_predictive_columns("next_slot", next_slot),
        "next_slot_oos_json": _oos_json(next_slot, [labels[i] for i in np.flatnonzero(ok)]),
    }


def open_close_columns(inp: PairInputs) -> dict[str, Any]:
    """Predictive value of the overnight futures change for the ETF's open-to-close return.

    Runs on the daily history from ``daily_start``, whatever the window's status: the model has
    its own minimum number of days.
    """
    import polars as pl

    cfg = inp.cfg
    daily = overnight_samples(
        inp.prices, inp.futures_symbol, inp.etf_symbol, inp.daily_start, inp.window_end
    )
    usable = daily.drop_nulls(["overnight", "open_close"])
    open_close = evaluate(
        usable["overnight"].to_numpy().astype(np.float64),
        usable["open_close"].to_numpy().astype(np.float64),
        usable["session_date"].cast(pl.Int64).to_numpy().astype(np.int64),
        min_train=cfg.min_train_days,
        min_oos=cfg.min_oos_days,
        what="open to close",
        opts=inp.opts,
    )
    return {
        "open_close_days": daily.height,
        **_predictive_columns("open_close", open_close),
        "open_close_oos_json": _oos_json(
            open_close, [d.isoformat() for d in usable["session_date"].to_list()]
        ),
    }
