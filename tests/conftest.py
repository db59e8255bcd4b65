"""Shared pytest configuration.

* Airflow gets a throw-away home (set before anything imports airflow), so tests never touch
  ``~/airflow`` and never depend on what a previous run left there.
* The IB Gateway simulator fixtures (``ib_simulator``, ``simulator_factory``, ...) come from
  the ``ib-gateway-sim`` distribution's pytest plugin, registered by its ``pytest11`` entry
  point once installed (``./dev install``); naming it here as well would register it twice.
"""

import os
import tempfile

if "AIRFLOW_HOME" not in os.environ or os.environ.get("IB_FUTURES_TEST_KEEP_AIRFLOW_HOME") != "1":
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="ibf-airflow-home-")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
