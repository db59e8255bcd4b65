"""docker-compose.yaml's structure, read with PyYAML (no Docker engine runs here).

Checked: the services of Airflow's official CeleryExecutor file plus the IB endpoint under
two profiles (``gateway``: IB Gateway with IBC, paper and read-only by default, API not
published; ``simulator``: the ib-gateway-sim simulator, from its own image); the executor,
broker and result backend; a healthcheck on every long-running service; the ``ib_default``
connection and the lake from the environment, pointing at the endpoint's service; the
``ib_gateway`` pool made by airflow-init; and no secrets in the file: the only literal
passwords allowed are the official file's well-known ``airflow``/``airflow`` local defaults
(PostgreSQL inside the compose network, the UI user's default), every other credential comes
from ``.env`` (git-ignored), and ``.env.example`` lists every variable the file reads, with no
secret values.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"

AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
    "airflow-init": None,
}
CORE_SERVICES = {"postgres", "redis", *AIRFLOW_SERVICES}
LONG_RUNNING = CORE_SERVICES - {"airflow-init"} | {"ib-gateway", "ib-simulator"}
IB_API_PORTS = {"4001", "4002", "4003", "4004", "7496", "7497", "7498", "7499"}

# Literal passwords the file may hold, by environment key: the official compose file's
# well-known local defaults (decided in docs/deployment.md, "Secrets").
ALLOWED_LITERAL_SECRETS = {
    "POSTGRES_PASSWORD": "airflow",  # PostgreSQL: no port published, compose network only
    "_AIRFLOW_WWW_USER_PASSWORD": "airflow",  # only as the default of ${_AIRFLOW_WWW_USER_PASSWORD}
}
SECRET_KEY = re.compile(r"PASSWORD|PASSPHRASE|SECRET|TOKEN|FERNET|_KEY$", re.I)
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and blank lines skipped, one level of quotes removed)."""
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {raw!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}`` and ``$$``."""

    def sub(match: re.Match[str]) -> str:
        name, op, default = match.group(1), match.group(2), match.group(3) or ""
        value = env.get(name)
        if op == ":-":
            return value if value else default
        if op == "-":
            return value if value is not None else default
        if op in (":?", "?"):
            assert value, f"{name} is required: {default}"
            return value
        return value or ""

    return VAR.sub(sub, text.replace("$$", "\0")).replace("\0", "$")


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every scalar of the file with its path (``services.x.environment.KEY``)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, f"{path}[{i}]")
    elif node is not None:
        yield path, str(node)


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


# --------------------------------------------------------------------------- services


def test_services_of_the_official_celery_file_plus_the_ib_endpoint() -> None:
    svc = services()
    assert CORE_SERVICES | {"ib-gateway", "ib-simulator"} <= set(svc)
    assert "x-airflow-common" in compose()
    for name, command in AIRFLOW_SERVICES.items():
        service = svc[name]
        assert service["image"] == compose()["x-airflow-common"]["image"], name
        assert service.get("build") == ".", f"{name} must use the image built from the Dockerfile"
        if command:
            assert service["command"] == command, name
        assert not service.get("profiles"), f"{name} must run in every profile"
    for name in ("postgres", "redis"):
        assert not svc[name].get("profiles"), name


def test_profiles_choose_the_gateway_or_the_simulator() -> None:
    svc = services()
    assert svc["ib-gateway"]["profiles"] == ["gateway"]
    assert svc["ib-simulator"]["profiles"] == ["simulator"]
    sim = svc["ib-simulator"]
    assert sim["command"] == [
        "python", "-m", "ib_gateway_sim", "--host", "0.0.0.0", "--port", "4002",
    ]  # fmt: skip


def test_the_simulator_runs_from_its_own_image_not_the_airflow_one() -> None:
    """The simulator profile builds the Dockerfile's ``simulator`` target (the ib-gateway-sim
    distribution alone); the Airflow image, the default target, does not carry it."""
    sim = services()["ib-simulator"]
    airflow_image = compose()["x-airflow-common"]["image"]
    assert sim["image"] != airflow_image
    assert sim["image"].split(":")[0] == "ib-gateway-sim"
    assert sim["build"] == {"context": ".", "target": "simulator"}
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", (ROOT / "Dockerfile").read_text(), re.M | re.I)
    assert "simulator" in stages
    # No Airflow service builds a target: they all get the last stage, the Airflow image.
    for name in AIRFLOW_SERVICES:
        assert services()[name].get("build") == ".", name


def test_celery_executor_with_redis_broker_and_postgres_result_backend() -> None:
    for name in AIRFLOW_SERVICES:
        env = environment(services()[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert env["AIRFLOW__CELERY__BROKER_URL"].split("@")[1].startswith("redis:6379"), name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name
        assert "@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://airflow-apiserver:8080/execution/"
        )
    worker = services()["airflow-worker"]
    assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_every_long_running_service_has_a_healthcheck() -> None:
    svc = services()
    for name in LONG_RUNNING:
        check = svc[name].get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    assert "4002" in " ".join(svc["ib-simulator"]["healthcheck"]["test"])
    # Services wait for what they need to be healthy, not merely started.
    for name in AIRFLOW_SERVICES:
        deps = svc[name]["depends_on"]
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy"


def test_ib_api_is_never_published_and_only_the_ui_is_on_localhost() -> None:
    published = {}
    for name, service in services().items():
        for port in service.get("ports") or []:
            published.setdefault(name, []).append(str(port))
    assert published == {"airflow-apiserver": ["127.0.0.1:8080:8080"]}
    for name in ("ib-gateway", "ib-simulator"):
        assert "ports" not in services()[name]
        assert "network_mode" not in services()[name], "host networking would publish the API"
    assert {str(p) for p in services()["ib-gateway"]["expose"]} <= IB_API_PORTS


def test_ib_gateway_is_paper_and_read_only_by_default_with_credentials_from_env() -> None:
    gateway = services()["ib-gateway"]
    assert gateway["image"].startswith("ghcr.io/gnzsnz/ib-gateway:")
    env = environment(gateway)
    assert interpolate(env["TRADING_MODE"], {}) == "paper"
    assert env["READ_ONLY_API"] == "yes"  # a literal: .env cannot turn it off
    assert env["TWS_USERID"] == "${TWS_USERID:-}"
    assert env["TWS_PASSWORD"] == "${TWS_PASSWORD:-}"
    assert "env_file" not in gateway and "env_file" not in compose()["x-airflow-common"]


@pytest.mark.parametrize(
    ("settings", "host", "port"),
    [
        ({}, "ib-simulator", 4002),
        ({"IB_HOST": "ib-gateway", "IB_PORT": "4004"}, "ib-gateway", 4004),
    ],
)
def test_ib_default_connection_and_lake_come_from_the_environment(
    settings: dict[str, str], host: str, port: int
) -> None:
    svc = services()
    for name in AIRFLOW_SERVICES:
        env = environment(svc[name])
        conn = json.loads(interpolate(env["AIRFLOW_CONN_IB_DEFAULT"], settings))
        assert conn["conn_type"] == "ibkr"
        assert (conn["host"], conn["port"]) == (host, port)
        assert conn["host"] in svc
        assert re.fullmatch(r"\d+-\d+", conn["extra"]["client_id_range"])
        assert interpolate(env["IB_FUTURES_LAKE_URI"], {}) == "/opt/airflow/lake"
        mounts = [str(v) for v in svc[name]["volumes"]]
        assert "ib-futures-lake:/opt/airflow/lake" in mounts, name
        assert env["IB_FUTURES_LEASE_DIR"] == "/opt/airflow/ib-leases"
    assert "ib-futures-lake" in compose()["volumes"]


def test_airflow_init_migrates_creates_the_user_and_the_ib_gateway_pool() -> None:
    init = services()["airflow-init"]
    script = "\n".join(init["command"])
    assert re.search(r'airflow pools set ib_gateway 1 "[^"]+"', script), script
    env = environment(init)
    assert env["_AIRFLOW_DB_MIGRATE"] == "true" and env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    for name in AIRFLOW_SERVICES.keys() - {"airflow-init"}:
        deps = services()[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name


# --------------------------------------------------------------------------- secrets


def test_no_secrets_in_the_compose_file() -> None:
    problems = []
    for path, value in strings(compose()):
        key = path.rsplit(".", 1)[-1]
        for user, password in re.findall(r"://([^:/@\s]*):([^@/\s]*)@", value):
            if password not in ("", "airflow") or user not in ("", "airflow"):
                problems.append(f"{path}: credentials in a URL")
        if not SECRET_KEY.search(key) or "." not in path or ".environment." not in path:
            continue
        refs = list(VAR.finditer(value))
        if not refs:
            if value != "" and ALLOWED_LITERAL_SECRETS.get(key) != value:
                problems.append(f"{path}: literal {key}")
            continue
        if VAR.sub("", value).strip():
            problems.append(f"{path}: {key} mixes a literal with a variable")
        for ref in refs:
            default = ref.group(3) or ""
            if default and ALLOWED_LITERAL_SECRETS.get(key) != default:
                problems.append(f"{path}: {key} has a literal default")
    assert problems == []


def test_env_example_lists_every_variable_and_holds_no_secret() -> None:
    text = COMPOSE_FILE.read_text().replace("$$", "")
    used = {m.group(1) for m in VAR.finditer(text)}
    example_text = ENV_EXAMPLE.read_text()
    listed = set(re.findall(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)=", example_text, re.M))
    assert used - listed == set(), "variables of docker-compose.yaml missing from .env.example"
    example = read_env_file(ENV_EXAMPLE)
    assert "COMPOSE_PROFILES" in example
    leaked = {k: v for k, v in example.items() if SECRET_KEY.search(k) and v}
    assert leaked == {}
    # With .env.example as .env, the connection points at the service of the chosen profile.
    profile = example["COMPOSE_PROFILES"]
    conn = json.loads(
        interpolate(environment(services()["airflow-worker"])["AIRFLOW_CONN_IB_DEFAULT"], example)
    )
    assert services()[conn["host"]]["profiles"] == [profile]


def test_env_is_git_ignored_and_env_example_is_not() -> None:
    def ignored(name: str) -> bool:
        proc = subprocess.run(
            ["git", "check-ignore", "-q", "--no-index", name], cwd=ROOT, check=False
        )
        assert proc.returncode in (0, 1), proc
        return proc.returncode == 0

    assert ignored(".env")
    assert not ignored(".env.example")
    # Where compose keeps logs and the generated airflow.cfg (which holds secrets) by default.
    default_dir = interpolate("${AIRFLOW_PROJ_DIR:-./.airflow}", {}).removeprefix("./")
    assert ignored(f"{default_dir}/config/airflow.cfg")
