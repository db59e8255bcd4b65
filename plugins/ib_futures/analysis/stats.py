"""Descriptive primitives on numpy arrays (the tests and intervals are in :mod:`.inference`).

Every function takes already-aligned, finite samples and returns plain floats; callers decide
what "too little data" means.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def as_float(value: Any) -> float | None:
    """A finite float, or None for NaN/inf/None: figures are never silently 0."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def dot(a: FloatArray, b: FloatArray) -> float:
    """``sum(a * b)`` of two 1-D arrays, without BLAS.

    numpy's ``a @ b`` calls OpenBLAS, which wakes its thread pool for every call of a long
    vector: in the analysis (tens of such products per lag, polars' threads busy too) that cost
    ~130 us a call against ~10 us here, and a 365-day window's lead-lag ran 2-3x slower.
    """
    return float(np.einsum("i,i->", a, b))


def pearson_r(x: FloatArray, y: FloatArray) -> float:
    """Pearson correlation; NaN when either side has no variance."""
    xd = x - x.mean()
    yd = y - y.mean()
    denom = math.sqrt(dot(xd, xd) * dot(yd, yd))
    return dot(xd, yd) / denom if denom > 0.0 else math.nan
