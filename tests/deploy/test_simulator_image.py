"""The simulator's image: the Dockerfile's ``simulator`` build target (no Docker engine here).

The compose file's ``simulator`` profile runs the ib-gateway-sim distribution from an image of
its own (docs/deployment.md, "The image"), so that the Airflow image, the default target,
carries nothing of it. Checked from the Dockerfile's text: the stages and what the default
target contains; then the simulator stages' own pip commands, read from the file, run in a
fresh virtual environment: the wheel holds the simulator alone, installs with no dependency
and serves the TWS handshake's port from outside this checkout.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_dockerfile import (
    FINAL_STAGE,
    INSTRUCTIONS,
    ROOT,
    Filesystem,
    base_image,
    clean_env,
    in_stage,
    run_stage,
    split_flags,
    stage_of,
)

SIMULATOR_DIST = "ib-gateway-sim"


def compose_simulator_command() -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    return list(compose["services"]["ib-simulator"]["command"])


def test_the_default_target_is_the_airflow_image_and_carries_no_simulator() -> None:
    assert stage_of("simulator") < FINAL_STAGE
    assert in_stage(FINAL_STAGE, "FROM")[0].args.startswith("apache/airflow:")
    for ins in INSTRUCTIONS:
        if ins.stage != FINAL_STAGE:
            continue
        flags, words = split_flags(ins.args)
        mounted = flags.get("mount", "")
        assert "simulator" not in mounted and "simulator" not in flags.get("from", ""), ins
        assert not [w for w in words if "simulator" in w or "ib_gateway_sim" in w], ins


def test_the_simulator_target_is_a_slim_unprivileged_image_running_the_cli() -> None:
    stage = stage_of("simulator")
    python = re.fullmatch(r"python:(\d+\.\d+)-slim-\w+", base_image(stage))
    airflow_python = re.search(r"-python(\d+\.\d+)$", base_image(FINAL_STAGE))
    assert python and airflow_python and python.group(1) == airflow_python.group(1)
    user = in_stage(stage, "USER")[-1].args.split(":")[0]
    assert user not in ("0", "root")
    assert in_stage(stage, "EXPOSE")[0].args == "4002"
    # The compose service states the command too (the healthcheck needs the port it names).
    assert json.loads(in_stage(stage, "CMD")[0].args) == compose_simulator_command()
    assert compose_simulator_command()[:3] == ["python", "-m", "ib_gateway_sim"]


def installed(python: Path, env: dict[str, str]) -> set[str]:
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"],
        env=env, capture_output=True, text=True, check=True,
    )
    return {d["name"].lower() for d in json.loads(listed.stdout)}


def _serve_once(python: Path, env: dict[str, str], cwd: Path) -> str:
    """Start the installed CLI on a free port; return its first line (it names the port)."""
    argv = [str(python), "-m", "ib_gateway_sim", "--port", "0", "--start", "2026-11-24T15:00:00Z"]
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        return proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.timeout(300)
def test_simulator_stage_pip_commands_install_the_simulator_alone(tmp_path: Path) -> None:
    t0 = time.monotonic()
    fs = Filesystem(tmp_path / "fs")
    venv = tmp_path / "venv"
    env = clean_env(venv, tmp_path / "home")
    env["PYTHONUNBUFFERED"] = "1"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        check=True, env=env, timeout=300,
    )

    before = installed(python, env)
    ran = run_stage(fs, stage_of("simulator-wheel"), python, env)
    assert len(ran) == 1 and " wheel " in ran[0], ran
    assert [p.name for p in fs("/wheels").glob("*.whl")] == ["ib_gateway_sim-0.1.0-py3-none-any.whl"]
    ran = run_stage(fs, stage_of("simulator"), python, env)
    assert len(ran) == 1 and " install " in ran[0], ran

    added = installed(python, env) - before
    assert added == {SIMULATOR_DIST}, "the simulator must need nothing but the stdlib"
    probe = "import importlib.util as u; print(u.find_spec('ib_futures') is None)"
    out = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"

    line = _serve_once(python, env, tmp_path)
    assert re.search(r"listening on 127\.0\.0\.1:\d+ \(server version 178", line), line
    print(f"simulator image stages in a venv: {time.monotonic() - t0:.1f}s")
