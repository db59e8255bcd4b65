"""IBHook: connection parsing, argument overrides, Test button against the simulator."""

from __future__ import annotations

import json
import time

import pytest

from ib_futures.airflow.hooks.ib import IBHook
from ib_futures.ib.settings import SettingsError
from ib_gateway_sim.testing import free_port


def set_conn(monkeypatch, port: int, **extra) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_IB_DEFAULT",
        json.dumps({"conn_type": "ibkr", "host": "127.0.0.1", "port": port, "extra": extra}),
    )


def test_class_attributes_declare_the_connection():
    assert IBHook.conn_type == "ibkr"
    assert IBHook.default_conn_name == "ib_default"
    assert IBHook.conn_name_attr == "ib_conn_id"
    behaviour = IBHook.get_ui_field_behaviour()
    assert "login" in behaviour["hidden_fields"] and "host" in behaviour["relabeling"]


def test_extras_are_parsed_and_arguments_override_them(monkeypatch):
    set_conn(
        monkeypatch,
        4002,
        client_id_range="200-210",
        market_data_type="delayed",
        delayed_fallback="false",
        snapshot_timeout=7,
    )
    s = IBHook().settings
    assert (s.port, s.client_id_range, s.market_data_type, s.delayed_fallback) == (
        4002,
        (200, 210),
        3,
        False,
    )
    assert s.snapshot_timeout == 7 and s.readonly is True
    s = IBHook(market_data_type="live", client_id=5, snapshot_timeout=None).settings
    assert (s.market_data_type, s.client_id, s.snapshot_timeout) == (1, 5, 7)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param({"client_id_range": "abc"}, "client_id_range.*'abc'", id="range"),
        pytest.param({"market_data_type": "realtime"}, "market_data_type.*'realtime'", id="mdt"),
        pytest.param({"connect_timeout": "soon"}, "connect_timeout.*'soon'", id="timeout"),
    ],
)
def test_bad_extras_name_the_key_and_value(monkeypatch, extra, message):
    set_conn(monkeypatch, 4002, **extra)
    with pytest.raises(SettingsError, match=f"ib_default.*{message}"):
        _ = IBHook().settings


def test_test_connection_succeeds_against_the_simulator(monkeypatch, ib_simulator):
    set_conn(monkeypatch, ib_simulator.port, connect_timeout=3, request_timeout=2)
    ok, message = IBHook().test_connection()
    assert ok, message
    assert f"127.0.0.1:{ib_simulator.port}" in message and "2026-11-24" in message


def test_test_connection_fails_fast_with_a_clear_message_on_a_closed_port(monkeypatch):
    port = free_port()
    set_conn(monkeypatch, port, connect_timeout=5)
    t0 = time.monotonic()
    ok, message = IBHook().test_connection()
    assert not ok
    assert time.monotonic() - t0 < 2
    assert f"127.0.0.1:{port}" in message and "refused" in message


def test_test_connection_times_out_when_the_gateway_hangs(monkeypatch, ib_simulator):
    ib_simulator.faults.hang("current_time")
    set_conn(monkeypatch, ib_simulator.port, connect_timeout=3, request_timeout=1)
    t0 = time.monotonic()
    ok, message = IBHook().test_connection()
    assert not ok and "reqCurrentTime" in message
    assert time.monotonic() - t0 < 4


def test_precedence_argument_then_extra_then_config_default(monkeypatch):
    set_conn(monkeypatch, 4002, snapshot_timeout=7)
    defaults = {"snapshot_timeout": 20, "market_data_type": "delayed"}
    s = IBHook(defaults=defaults).settings
    assert (s.snapshot_timeout, s.market_data_type) == (7, 3)
    assert IBHook(snapshot_timeout=3, defaults=defaults).settings.snapshot_timeout == 3
