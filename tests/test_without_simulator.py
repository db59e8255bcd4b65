"""The product does not depend on the simulator (the ib-gateway-sim distribution).

* no module of ``ib_futures`` and no DAG file imports ``ib_gateway_sim`` at module level; only
  ``ib_futures.demo`` does, inside ``main()``;
* the product's metadata names no simulator: not as a dependency, not in its wheel;
* with ``ib_gateway_sim`` made unimportable, every ``ib_futures`` module imports and the DAGs
  parse (tests/deploy/test_dockerfile.py proves the same from a real ``pip install``), and the
  demo says how to get the simulator instead of failing with a traceback.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "plugins" / "ib_futures"
SIMULATOR = "ib_gateway_sim"


def _imports(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def _simulator_imports(path: Path) -> tuple[list[int], list[int]]:
    """Line numbers of simulator imports at module level and inside functions."""
    tree = ast.parse(path.read_text(), str(path))
    in_functions = {
        id(inner)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(fn)
    }
    top, nested = [], []
    for node in ast.walk(tree):
        if any(name.split(".")[0] == SIMULATOR for name in _imports(node)):
            (nested if id(node) in in_functions else top).append(node.lineno)
    return top, nested


def test_only_the_demo_imports_the_simulator_and_only_inside_a_function() -> None:
    files = sorted(PACKAGE.rglob("*.py")) + sorted((ROOT / "dags").glob("*.py"))
    assert len(files) > 20
    top = {str(p.relative_to(ROOT)): _simulator_imports(p)[0] for p in files}
    nested = {str(p.relative_to(ROOT)): _simulator_imports(p)[1] for p in files}
    assert {path: lines for path, lines in top.items() if lines} == {}
    assert [path for path, lines in nested.items() if lines] == ["plugins/ib_futures/demo.py"]


def test_the_product_metadata_names_no_simulator() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = list(project["project"]["dependencies"])
    for extra in project["project"].get("optional-dependencies", {}).values():
        requirements += extra
    assert not [r for r in requirements if "gateway-sim" in r or SIMULATOR in r]
    find = project["tool"]["setuptools"]["packages"]["find"]
    assert find["where"] == ["plugins"] and find["include"] == ["ib_futures*"]
    assert not (PACKAGE / "simulator").exists()


BLOCKED_IMPORT = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {SIMULATOR!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")
        return None
sys.meta_path.insert(0, Block())
"""


def test_every_module_imports_and_the_dags_parse_without_the_simulator() -> None:
    code = BLOCKED_IMPORT + textwrap.dedent(f"""
        import importlib, json, pkgutil, warnings
        import ib_futures
        names = [m.name for m in pkgutil.walk_packages(ib_futures.__path__, "ib_futures.")]
        failed = {{}}
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as exc:
                failed[name] = repr(exc)
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(ROOT / "dags")!r})
        print(json.dumps({{"modules": len(names), "failed": failed,
                          "errors": {{k: str(v)[-500:] for k, v in bag.import_errors.items()}},
                          "dags": sorted(bag.dags), "simulator": {SIMULATOR!r} in sys.modules}}))
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["modules"] > 20
    assert result["failed"] == {} and result["errors"] == {}
    assert result["dags"] == ["futures_analysis_weekly", "futures_backfill", "futures_collection",
                              "futures_freshness", "futures_gap_repair"]  # fmt: skip
    assert result["simulator"] is False


def test_the_demo_says_how_to_install_the_simulator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ib_futures import demo

    monkeypatch.setitem(sys.modules, SIMULATOR, None)  # "import ib_gateway_sim" raises
    assert demo.main(["--workdir", str(tmp_path / "demo")]) == 2
    assert "install ib-gateway-sim (./dev install) to run the demo" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()  # it stopped before doing anything
