"""Weekly study of how each index future tracks, leads and predicts its ETF.

Pure layer: polars, numpy and matplotlib, no Airflow. Importing this package is cheap;
the heavy libraries are imported by the submodules that need them.

* :mod:`.config`       constants (exchange time zone, analysis version); the settings are
                       ``core.config.AnalysisSettings`` (the configuration's ``analysis``)
* :mod:`.slots`        expected slots: ETF regular hours (XNYS), futures Globex hours (CME)
* :mod:`.returns`      5-minute log returns aligned by slot, never across a gap or a roll
* :mod:`.stats`        descriptive numpy primitives (Pearson r)
* :mod:`.inference`    HAC (Newey-West) tests and intervals: correlation, slope, mean
* :mod:`.correlation`  Pearson/Spearman with intervals, rolling and per-day correlation
* :mod:`.leadlag`      cross-correlation at lags -12..+12 slots and its peak
* :mod:`.predictive`   walk-forward out-of-sample predictive value
* :mod:`.basis`        the futures/ETF basis
* :mod:`.data_coverage`   expected versus present slots, gaps
* :mod:`.pipeline`     one pair, one window: all of the above into one flat result row
* :mod:`.columns`      the result row's column groups, one function per block
* :mod:`.predictive_columns`  the predictive models' column groups
* :mod:`.results`      the ``futures_analysis`` Delta table (idempotent per week and pair)
* :mod:`.report`       charts (PNG) and the self-contained HTML report

See ``docs/analysis.md`` for the definition of every figure.
"""
