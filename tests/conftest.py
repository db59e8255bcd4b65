"""Shared pytest configuration: registers the IB Gateway simulator fixtures."""

pytest_plugins = ["ib_futures.simulator.testing"]
