"""ib-futures: CME index-futures and ETF snapshots from Interactive Brokers into Delta Lake.

The package is layered (see the README):

* ``ib_futures.core``: pure domain logic (config, instruments, contract months and roll,
  CME session calendar, snapshot records, change metrics, IB pacing). No Airflow, no I/O.
* ``ib_futures.ib``: short-lived, read-only gateway sessions through ``ib_async``.
* ``ib_futures.lake``: Delta Lake schemas, idempotent merges, maintenance and readers.
* ``ib_futures.analysis``: weekly correlation, lead-lag and predictive-value study.
* ``ib_futures.airflow``: thin Airflow adapters (hook, operators, callbacks, plugin).

The IB Gateway simulator the demo and the tests run on is a distribution of its own
(``ib-gateway-sim`` in ``simulator/``, import package ``ib_gateway_sim``); this package does
not depend on it.

Importing this package is cheap: it imports none of the heavy libraries.
"""

__version__ = "0.1.0"
