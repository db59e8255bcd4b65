from pathlib import Path

import pytest

from ib_futures.core.config import (
    CONFIG_ENV,
    ConfigError,
    FuturesConfig,
    config_search_paths,
    find_config_file,
    load_config,
    parse_config,
)
from ib_futures.lake.storage import LAKE_URI_ENV, resolve_lake

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "include" / "config" / "futures_config.yaml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in (CONFIG_ENV, LAKE_URI_ENV, "AIRFLOW_HOME"):
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, text: str, name: str = "futures_config.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def errors_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return str(info.value)


def test_shipped_yaml_loads_and_equals_the_defaults():
    cfg = load_config(SHIPPED)
    assert cfg.model_dump() == FuturesConfig().model_dump()
    assert cfg.collection.instruments == ["ES", "NQ", "RTY", "SPY", "QQQ", "IWM"]
    assert cfg.instruments["NQ"].multiplier == 20
    assert cfg.instruments["QQQ"].primary_exchange == "NASDAQ"
    assert cfg.analysis.pair_tuples() == [("ES", "SPY"), ("NQ", "QQQ"), ("RTY", "IWM")]
    assert cfg.collection.market_data_type_code == 1
    assert cfg.roll_rule().kind == "second_thursday"


def test_default_lookup_finds_the_checkout_file():
    assert find_config_file() == SHIPPED
    assert load_config().source == SHIPPED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "collection:\n  instruments: [ES, NQ, XYZ]\n",
            "futures_config.yaml: collection.instruments[2]: unknown symbol 'XYZ' "
            "(known: ES, NQ, RTY, SPY, QQQ, IWM)",
            id="unknown-symbol",
        ),
        pytest.param(
            "collection:\n  interval_minutes: 7\n",
            "futures_config.yaml: collection.interval_minutes: 7 is not supported: the slot "
            "length is fixed at 5 minutes (IB's 5-minute bars fill missed slots, the analysis "
            "uses 5-minute returns); leave the key out or set 5",
            id="bad-interval",
        ),
        pytest.param(
            "collection:\n  interval_minutes: 10\n",
            "futures_config.yaml: collection.interval_minutes: 10 is not supported: the slot "
            "length is fixed at 5 minutes (IB's 5-minute bars fill missed slots, the analysis "
            "uses 5-minute returns); leave the key out or set 5",
            id="other-slot-length-refused",
        ),
        pytest.param(
            "storage:\n  retention:\n    vacuum_retention_hours: abc\n",
            "futures_config.yaml: storage.retention.vacuum_retention_hours: "
            "expected an integer, got 'abc'",
            id="wrong-type",
        ),
        pytest.param(
            "session:\n  foo: 1\n",
            "futures_config.yaml: unknown field 'foo' in session",
            id="unknown-field",
        ),
        pytest.param(
            "colection:\n  interval_minutes: 5\n",
            "unknown field 'colection' at the top level (did you mean 'collection'?)",
            id="top-level-typo",
        ),
        pytest.param(
            "collection:\n  market_data_type: realtime\n",
            "collection.market_data_type: expected one of 'live', 'frozen', 'delayed' or "
            "'delayed_frozen', got 'realtime'",
            id="bad-choice",
        ),
        pytest.param(
            "collection:\n  delayed_fallback: 'yes'\n",
            "collection.delayed_fallback: expected true or false, got 'yes'",
            id="string-for-bool",
        ),
        pytest.param(
            "collection:\n  interval_minutes: '5'\n",
            "collection.interval_minutes: expected an integer, got '5'",
            id="string-for-int",
        ),
        pytest.param(
            "session:\n  ib_reset_windows: [{start: 23:45, end: '00:45'}]\n",
            "session.ib_reset_windows[0].start: expected a quoted time 'HH:MM'",
            id="unquoted-time",
        ),
        pytest.param(
            "session:\n  timezone: Mars/Olympus\n",
            "session.timezone: unknown time zone 'Mars/Olympus'",
            id="bad-zone",
        ),
        pytest.param(
            "analysis:\n  pairs: [[SPY, ES]]\n",
            "analysis.pairs[0][0]: 'SPY' is not a future",
            id="pair-order",
        ),
        pytest.param(
            "instruments:\n  XX: {asset_class: FUT, exchange: CME, etf: ABC}\n",
            "instruments.XX.etf: 'ABC' is not a defined ETF (ETFs: SPY, QQQ, IWM)",
            id="bad-etf-link",
        ),
        pytest.param(
            "alerts:\n  notifier: {kind: smtp}\n",
            "alerts.notifier.to: an smtp notifier needs at least one recipient",
            id="smtp-without-recipient",
        ),
        pytest.param(
            "alerts:\n  deadline_minutes: 0\n",
            "alerts.deadline_minutes: must be >= 1, got 0",
            id="below-minimum",
        ),
        pytest.param("session: closed\n", "session: expected a mapping, got 'closed'", id="scalar"),
        pytest.param("- a\n- b\n", "expected a mapping of sections", id="top-level-list"),
        pytest.param("collection: {a: 1\n", "invalid YAML: line", id="yaml-syntax"),
        pytest.param(
            "collection:\n  interval_minutes: 5\ncollection:\n  interval_minutes: 10\n",
            "duplicate key 'collection'",
            id="duplicate-key",
        ),
    ],
)
def test_errors_name_the_key_and_the_value(tmp_path, text, expected):
    assert expected in errors_of(tmp_path, text)


def test_all_errors_are_reported_at_once(tmp_path):
    msg = errors_of(
        tmp_path,
        "collection:\n  interval_minutes: 7\n  market_data_type: x\nsession:\n  foo: 1\n",
    )
    lines = msg.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("futures_config.yaml: ") for line in lines)


def test_config_error_is_a_value_error_with_lines(tmp_path):
    with pytest.raises(ValueError) as info:
        load_config(write(tmp_path, "collection:\n  interval_minutes: 7\n"))
    err = info.value
    assert isinstance(err, ConfigError)
    assert err.errors == [
        "collection.interval_minutes: 7 is not supported: the slot length is fixed at 5 "
        "minutes (IB's 5-minute bars fill missed slots, the analysis uses 5-minute returns); "
        "leave the key out or set 5"
    ]
    assert err.path is not None and err.path.name == "futures_config.yaml"


def test_empty_file_gives_defaults(tmp_path):
    assert load_config(write(tmp_path, "")).model_dump() == FuturesConfig().model_dump()


def test_instruments_merge_with_builtins(tmp_path):
    cfg = load_config(
        write(
            tmp_path,
            "instruments:\n"
            "  MES: {asset_class: FUT, exchange: CME, multiplier: 5, min_tick: 0.25, etf: SPY}\n"
            "collection:\n  instruments: [MES, SPY]\n",
        )
    )
    assert set(cfg.instruments) == {"ES", "NQ", "RTY", "SPY", "QQQ", "IWM", "MES"}
    # pairs default to the built-in pairs whose legs are collected: none here
    assert cfg.analysis.pairs == []


def test_default_pairs_follow_the_collection():
    cfg = parse_config({"collection": {"instruments": ["ES", "SPY", "NQ"]}})
    assert cfg.analysis.pair_tuples() == [("ES", "SPY")]


def test_explicit_pairs_must_be_collected():
    with pytest.raises(ConfigError, match=r"analysis.pairs\[0\]\[1\]: 'QQQ' is not collected"):
        parse_config(
            {"collection": {"instruments": ["NQ", "SPY"]}, "analysis": {"pairs": [["NQ", "QQQ"]]}}
        )


def test_extra_closure_dates_are_local(tmp_path):
    cfg = load_config(
        write(
            tmp_path,
            "session:\n  extra_closures:\n"
            "    - {start: 2027-03-26, end: '2027-03-27 00:00', markets: [FUT], reason: closed}\n",
        )
    )
    c = cfg.session.extra_closures[0]
    assert (c.start.day, c.end.day, c.markets) == (26, 27, ["FUT"])


# ------------------------------------------------------------------ lookup and lake uri


def test_lookup_order(tmp_path, monkeypatch):
    home = tmp_path / "airflow"
    (home / "include" / "config").mkdir(parents=True)
    in_home = write(home / "include" / "config", "alerts: {deadline_minutes: 11}\n")
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    assert config_search_paths()[0] == in_home
    assert find_config_file() == in_home
    assert load_config().alerts.deadline_minutes == 11

    explicit = write(tmp_path, "alerts: {deadline_minutes: 15}\n", "mine.yaml")
    monkeypatch.setenv(CONFIG_ENV, str(explicit))
    assert load_config().alerts.deadline_minutes == 15

    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="IB_FUTURES_CONFIG points to"):
        load_config()


def test_airflow_home_without_config_falls_back_to_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert find_config_file() == SHIPPED


def test_lake_uri_relative_to_project_root(tmp_path):
    root = tmp_path / "project"
    (root / "include" / "config").mkdir(parents=True)
    cfg = load_config(write(root / "include" / "config", "storage: {lake_uri: data/lake}\n"))
    assert cfg.base_dir() == root
    assert configured_lake(cfg) == str(root / "data" / "lake")
    assert cfg.report_dir() == root / "reports"


def test_lake_uri_elsewhere_relative_to_the_file(tmp_path):
    cfg = load_config(write(tmp_path, "storage: {lake_uri: lake}\n", "custom.yaml"))
    assert configured_lake(cfg) == str(tmp_path / "lake")


def test_lake_uri_env_beats_the_config(monkeypatch, tmp_path):
    cfg = load_config(SHIPPED)
    assert configured_lake(cfg) == str(ROOT / ".lake")
    monkeypatch.setenv(LAKE_URI_ENV, "s3://bucket/prefix")
    assert configured_lake(cfg) == "s3://bucket/prefix"
    monkeypatch.setenv(LAKE_URI_ENV, "relative/lake")
    assert configured_lake(cfg) == str(ROOT / "relative" / "lake")
    monkeypatch.setenv(LAKE_URI_ENV, str(tmp_path / "abs"))
    assert configured_lake(cfg) == str(tmp_path / "abs")
    monkeypatch.setenv(LAKE_URI_ENV, "  ")
    assert configured_lake(cfg) == str(ROOT / ".lake")


def test_config_built_in_code_resolves_against_airflow_home(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert configured_lake(FuturesConfig()) == str(tmp_path / ".lake")


def test_model_is_frozen():
    cfg = FuturesConfig()
    with pytest.raises(ValueError):
        cfg.collection.instruments = ["ES"]  # type: ignore[misc]


def configured_lake(cfg: FuturesConfig) -> str:
    """The lake when neither an argument nor a lake connection names one."""
    return resolve_lake(configured=cfg.storage.lake_uri, base_dir=cfg.base_dir()).uri


def test_import_is_cheap():
    import subprocess
    import sys

    code = (
        "import sys, ib_futures.core.config as c; "
        "heavy = [m for m in ('pandas', 'pandas_market_calendars', 'airflow', 'polars') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("pacing", "expected"),
    [
        pytest.param(
            "{ledger: postgres}",
            "collection.history_pacing.conn_id: the postgres ledger needs the id of an Airflow "
            "connection of type postgres",
            id="store-without-connection",
        ),
        pytest.param(
            "{ledger: file, conn_id: pg}",
            "collection.history_pacing.conn_id: only the postgres and redis ledgers use a "
            "connection; ledger is 'file'",
            id="connection-on-file",
        ),
        pytest.param(
            "{ledger: redis, conn_id: r, path: /tmp/x}",
            "collection.history_pacing.path: only the file ledger has a path; ledger is 'redis'",
            id="path-on-redis",
        ),
        pytest.param(
            "{ledger: sqlite}",
            "collection.history_pacing.ledger: expected one of 'process', 'file', 'postgres' "
            "or 'redis', got 'sqlite'",
            id="unknown-ledger",
        ),
        pytest.param(
            "{path: ''}",
            "collection.history_pacing.path: expected a file or directory path, got an empty",
            id="empty-path",
        ),
        pytest.param(
            "{name: 'two words'}",
            "collection.history_pacing.name: expected 1-64 letters, digits or '_.:-'",
            id="bad-name",
        ),
        pytest.param(
            "{ledgr: file}",
            "unknown field 'ledgr' in collection.history_pacing (did you mean 'ledger'?)",
            id="typo",
        ),
    ],
)
def test_history_pacing_errors_name_the_key(tmp_path, pacing, expected):
    assert expected in errors_of(tmp_path, f"collection:\n  history_pacing: {pacing}\n")


def test_history_pacing_defaults_and_stores(tmp_path):
    pacing = FuturesConfig().collection.history_pacing
    assert (pacing.ledger, pacing.path, pacing.conn_id, pacing.name) == (
        "file", None, None, "default"
    )
    cfg = load_config(
        write(tmp_path, "collection:\n  history_pacing: {ledger: redis, conn_id: pacing_redis}\n")
    )
    assert cfg.collection.history_pacing.conn_id == "pacing_redis"
