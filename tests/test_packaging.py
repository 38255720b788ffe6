"""Packaging (issue 12 B): the wheel holds lvc alone, its dependencies are what lvc imports, torch is a range."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# Distribution name -> the name it is imported by, where the two differ.
IMPORT_NAME = {"pillow": "PIL"}


def _name(requirement: str) -> str:
    for stop in "<>=![; ":
        requirement = requirement.split(stop)[0]
    return requirement.strip().lower()


def _imported_by_lvc() -> set[str]:
    """Top-level names of everything ``lvc/`` imports (also inside functions), standard library left out."""
    names: set[str] = set()
    for path in (ROOT / "lvc").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "lvc"}


def test_runtime_dependencies_are_what_lvc_imports() -> None:
    runtime = {IMPORT_NAME.get(_name(r), _name(r)) for r in PROJECT["dependencies"]}
    extras = PROJECT["optional-dependencies"]
    plot = {_name(r) for r in extras["plot"]}
    imported = _imported_by_lvc()
    assert imported - plot == runtime  # nothing declared and unused (einops was), nothing used and undeclared
    assert {_name(r) for r in extras["train"]} == {"lightning", "jsonargparse"}
    assert {"lvc[train,plot]", "pytest>=8"} <= set(extras["dev"])


def test_torch_is_a_range_and_python_agrees_with_the_readme() -> None:
    torch = next(r for r in PROJECT["dependencies"] if _name(r) == "torch")
    assert "==" not in torch and ">=" in torch and "<" in torch
    minimum = PROJECT["requires-python"].removeprefix(">=")
    assert f"Python {minimum} or newer" in (ROOT / "README.md").read_text()


@pytest.mark.slow
def test_wheel_holds_lvc_alone(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a copy, so that setuptools' build/ folder is not left in the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("lvc", "train"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(src)], check=True, timeout=600, capture_output=True)
    wheel = next(tmp_path.glob("lvc-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    import lvc

    assert {n.split("/")[0] for n in names} == {"lvc", f"lvc-{lvc.__version__}.dist-info"}  # no `train`
    assert "lvc/py.typed" in names and "lvc/__main__.py" in names
    assert f"Version: {lvc.__version__}" in meta
    assert "Requires-Dist: lightning" in meta and 'extra == "train"' in meta
    assert not [line for line in meta.splitlines() if line.startswith("Requires-Dist: lightning")
                and "extra" not in line]
