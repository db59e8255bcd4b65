"""Helpers shared by several test folders (records, reference data, a moto server).

Importable as ``support.<module>`` because ``pyproject.toml`` puts ``tests/`` on pytest's
``pythonpath``; fixtures themselves live in each folder's ``conftest.py``.
"""
