"""Imports run one way, as the tree says (DESIGN.md §2):

* ``lvc.format`` (the byte layout) and ``lvc.io`` never import torch, nor does ``lvc.codec.gop``, the
  rate control, the presets or ``lvc.weights`` (where weights are and their hashes), so ``lvc info`` and
  ``--help`` start fast and a bad ``--model`` or a stream from other weights is refused before torch loads;
* ``lvc.format`` and ``lvc.weights`` are stdlib only, with everything of lvc they import;
* ``lvc.codec`` (what can change decoded bits) never imports ``lvc.tools`` (what only reports);
* ``lvc.format`` imports nothing of lvc above it (no io, codec, models or tools);
* ``lvc.models`` and ``lvc.entropy`` (the networks and their coders) never import the frame loop
  (``lvc.codec``) or the reports (``lvc.tools``): the codec composes them, not the other way round;
* lvc never imports train or lightning.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LVC = ROOT / "lvc"


def _loaded_after(imports: str) -> set[str]:
    code = f"import sys; {imports}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(out.stdout.split())


def _modules(package: str) -> list[str]:
    folder = LVC / package
    return [f"lvc.{package}." + ".".join(p.relative_to(folder).with_suffix("").parts)
            for p in sorted(folder.rglob("*.py")) if p.name != "__init__.py"]


def _imported(path: Path) -> set[str]:
    """Every module ``path`` names in an import, at any depth (lazy imports inside functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _imports_of(package: str) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): _imported(p) for p in sorted((LVC / package).rglob("*.py"))}


def test_format_io_and_the_pure_encoder_decisions_do_not_load_torch() -> None:
    light = ["lvc", "lvc.api", "lvc.cli", *_modules("format"), *_modules("io"),
             "lvc.codec.gop", "lvc.codec.modes", "lvc.codec.ratecontrol", "lvc.codec.presets", "lvc.rates",
             "lvc.tools.inspect", "lvc.tools.compare", "lvc.weights"]
    mods = _loaded_after("import " + ", ".join(light))
    assert "torch" not in mods
    assert "lvc.format.stream_info" in mods and "lvc.io.x26x" in mods  # the lists above were found


def test_format_io_and_weights_never_name_torch_even_lazily() -> None:
    assert (LVC / "weights" / "__init__.py").exists()
    for package in ("format", "io", "weights"):
        for path, names in _imports_of(package).items():
            assert not {n for n in names if n.split(".")[0] in ("torch", "torchvision")}, path


def test_format_depends_on_nothing_above_it() -> None:
    for path, names in _imports_of("format").items():
        above = {n for n in names if n.startswith(("lvc.io", "lvc.codec", "lvc.models", "lvc.entropy", "lvc.tools",
                                                   "lvc.api", "lvc.cli"))}
        assert not above, f"{path} imports {above}"


def _module_file(name: str) -> Path | None:
    """The source of module ``name`` in this checkout (None: not a module of it, e.g. a class name)."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def _import_closure(paths: list[Path]) -> tuple[set[str], set[str]]:
    """``(modules of lvc reached, other top-level names imported)`` from ``paths``, following every import of
    lvc (lazy ones too) through the modules it names. The bare package ``lvc`` is not followed: importing a
    submodule runs its ``__init__``, whose one import (the API) waits in ``__getattr__`` until it is asked for."""
    reached: set[str] = set()
    outside: set[str] = set()
    todo = list(paths)
    while todo:
        for name in _imported(todo.pop()):
            if name.split(".")[0] != "lvc":
                outside.add(name.split(".")[0])
            elif name != "lvc" and name not in reached and (path := _module_file(name)) is not None:
                reached.add(name)
                todo.append(path)
    return reached, outside


def test_format_and_weights_are_stdlib_only() -> None:
    """Not just no torch: nothing outside the standard library, through every lvc module they import."""
    for package, may_reach in (("format", {"lvc.errors", "lvc.rates"}), ("weights", {"lvc.errors"})):
        paths = sorted((LVC / package).rglob("*.py"))
        reached, outside = _import_closure(paths)
        assert outside and outside <= sys.stdlib_module_names, (package, outside - sys.stdlib_module_names)
        beyond = {m for m in reached if not m.startswith(f"lvc.{package}")}
        assert beyond <= may_reach, (package, beyond - may_reach)
    reached, _ = _import_closure(sorted((LVC / "format").rglob("*.py")))
    assert {"lvc.format.bitstream", "lvc.format.varint", "lvc.errors"} <= reached  # the walk found them


def test_codec_never_imports_tools() -> None:
    imports = _imports_of("codec")
    assert "lvc/codec/encoder.py" in imports
    for path, names in imports.items():
        assert not {n for n in names if n.startswith("lvc.tools")}, path


def test_models_and_entropy_never_import_the_frame_loop_or_tools() -> None:
    imports = {**_imports_of("models"), **_imports_of("entropy")}
    assert "lvc/models/builders.py" in imports and "lvc/entropy/coder.py" in imports
    for path, names in imports.items():
        assert not {n for n in names if n.startswith(("lvc.codec", "lvc.tools"))}, path


def test_lvc_never_imports_training_code() -> None:
    mods = _loaded_after("import lvc.api, lvc.image, lvc.models.zoo, lvc.codec.encoder, lvc.codec.decoder")
    assert not {m for m in mods if m == "train" or m.startswith(("train.", "lightning"))}
