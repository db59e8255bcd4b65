"""Fixtures of the weekly-analysis tests.

Airflow reads AIRFLOW_HOME when it is first imported, so a temporary one is set here, before
any test module of this directory can import it.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="ib-futures-analysis-airflow-"))
