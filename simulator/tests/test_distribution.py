"""The distribution itself: standard library only, its entry points, its CLI's usage line."""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys

import pytest

IMPORT_EVERYTHING = """
import json, pkgutil, sys, importlib
before = {name.split(".")[0] for name in sys.modules}  # the interpreter's and site's own
import ib_gateway_sim
for module in pkgutil.walk_packages(ib_gateway_sim.__path__, "ib_gateway_sim."):
    if module.name != "ib_gateway_sim.testing":  # the pytest plugin imports pytest, by design
        importlib.import_module(module.name)
import sysconfig
stdlib = tuple(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib"))
def third_party(name):
    path = getattr(sys.modules[name], "__file__", None) or ""
    in_stdlib = path.startswith(stdlib) and "site-packages" not in path  # a venv's platstdlib
    return name not in sys.stdlib_module_names and not in_stdlib
top = {name.split(".")[0] for name in sys.modules} - before
print(json.dumps(sorted(name for name in top if third_party(name))))
"""


def test_the_package_imports_nothing_but_the_standard_library() -> None:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert json.loads(out.stdout) == ["ib_gateway_sim"]


def test_the_distribution_declares_no_runtime_dependency() -> None:
    requires = md.requires("ib-gateway-sim") or []
    assert [r for r in requires if "extra ==" not in r] == []


def test_entry_points_register_the_plugin_and_the_console_script(
    pytestconfig: pytest.Config,
) -> None:
    eps = md.distribution("ib-gateway-sim").entry_points
    assert {(e.group, e.name, e.value) for e in eps} == {
        ("pytest11", "ib_gateway_sim", "ib_gateway_sim.testing"),
        ("console_scripts", "ib-gateway-sim", "ib_gateway_sim.__main__:console_main"),
    }
    # This very session got its fixtures from the entry point, not from a conftest.
    assert pytestconfig.pluginmanager.has_plugin("ib_gateway_sim")


def test_the_console_script_names_itself_in_its_usage() -> None:
    from ib_gateway_sim.__main__ import build_parser

    assert build_parser("ib-gateway-sim").format_usage().startswith("usage: ib-gateway-sim ")
    assert build_parser().format_usage().startswith("usage: python -m ib_gateway_sim ")
