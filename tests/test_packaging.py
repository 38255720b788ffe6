"""Packaging (issue 12 B): the wheel holds lvc alone, its dependencies are what lvc imports, torch is a range."""

from __future__ import annotations

import ast
import operator
import re
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


def _specifier(requirement: str) -> str:
    """``"torch>=2.13,<2.15"`` -> ``">=2.13,<2.15"``."""
    return requirement[len(_name(requirement)):].strip()


def _release(version: str) -> tuple[int, ...]:
    """``"2.14.1+cu130"`` -> ``(2, 14, 1)``: the release numbers, local label and pre-release tags left out."""
    return tuple(int(re.match(r"\d*", part).group() or 0) for part in version.split("+")[0].split("."))


def _satisfies(version: str, specifier: str) -> bool:
    """Whether ``version`` is in ``specifier`` (``packaging.specifiers`` where it is installed; else the
    comparisons these ranges use, on release numbers)."""
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:
        ops = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
               "!=": operator.ne}
        have = _release(version)
        for clause in specifier.split(","):
            op, bound = re.fullmatch(r"\s*(>=|<=|==|!=|>|<)\s*([\w.]+)\s*", clause).groups()
            want = _release(bound)
            width = max(len(have), len(want))
            if not ops[op](have + (0,) * (width - len(have)), want + (0,) * (width - len(want))):
                return False
        return True
    return SpecifierSet(specifier).contains(version, prereleases=True)


@pytest.mark.parametrize("with_packaging", [True, False])
def test_satisfies_reads_ranges_as_pip_does(monkeypatch: pytest.MonkeyPatch, with_packaging: bool) -> None:
    if not with_packaging:
        monkeypatch.setitem(sys.modules, "packaging.specifiers", None)  # the fallback's parse
    assert _satisfies("2.14.1+cu130", ">=2.13,<2.15") and _satisfies("2.13", ">=2.13,<2.15")
    assert not _satisfies("2.15.0", ">=2.13,<2.15") and not _satisfies("2.12.9", ">=2.13,<2.15")


def test_torch_is_a_range_and_python_agrees_with_the_readme() -> None:
    from importlib import metadata

    readme = (ROOT / "README.md").read_text()
    cpu = [line for line in readme.splitlines() if "download.pytorch.org/whl/cpu" in line]
    assert len(cpu) == 1, cpu  # the README's CPU-only install command
    stated = {_name(r): _specifier(r) for r in re.findall(r'"([^"]+)"', cpu[0])}
    for package in ("torch", "torchvision"):
        declared = _specifier(next(r for r in PROJECT["dependencies"] if _name(r) == package))
        assert "==" not in declared and ">=" in declared and "<" in declared, (package, declared)
        # The CPU-only build is installed first and then kept: in other ranges, pip would replace it, or refuse.
        assert stated.get(package) == declared, (package, cpu[0])
        installed = metadata.version(package)
        assert _satisfies(installed, declared), f"{package} {installed} is not in pyproject's {declared}"
    minimum = PROJECT["requires-python"].removeprefix(">=")
    assert f"Python {minimum} or newer" in readme


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
    shipped = {f"lvc/weights/{p.name}" for p in (ROOT / "lvc" / "weights").glob("*.pt")}
    assert shipped and shipped <= set(names) and "lvc/weights/__init__.py" in names  # the weights and their locator
    assert f"Version: {lvc.__version__}" in meta
    assert "Requires-Dist: lightning" in meta and 'extra == "train"' in meta
    assert not [line for line in meta.splitlines() if line.startswith("Requires-Dist: lightning")
                and "extra" not in line]


def test_python_m_train_runs_from_the_checkout() -> None:
    """``python -m train`` (README, Training) as a user runs it: a process started in the checkout's root.
    ``export --help`` loads the entry point and the export code (torch, not lightning) and does no work."""
    res = subprocess.run([sys.executable, "-m", "train", "export", "--help"], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: python -m train export") and "--id ID" in res.stdout, res.stdout
