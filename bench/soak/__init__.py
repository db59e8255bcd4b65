"""The fast-forward soak: weeks of futures_collection slots against the simulator, then an audit.

``./dev soak`` (``bench/bench_soak.py``) runs it; bench/README.md has its figures. Modules:
``plan`` (the seeded schedule of faults, resets, the restart and the outage), ``faults`` (each
fault put into the simulator), ``tasks`` (one slot as the DAG's tasks run it, with its retry
policy), ``repair`` (the daily gap repair, one call), ``run`` (the loop), ``audit`` (the lake
against the simulator's ground-truth log), ``report`` (the figures).
"""
