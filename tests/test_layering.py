"""Imports run one way: the byte layer, GOP logic, I/O and `lvc info` never load torch, and lvc never
imports train or lightning."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def _loaded_after(imports: str) -> set[str]:
    code = f"import sys; {imports}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(out.stdout.split())


def test_light_modules_do_not_import_torch() -> None:
    mods = _loaded_after("import lvc, lvc.api, lvc.bitstream, lvc.gop, lvc.io.video, lvc.io.audio, lvc.io.container, "
                         "lvc.stream_info, lvc.cli, lvc.inspect, lvc.compare, "
                         "lvc.presets, lvc.ratecontrol")
    assert "torch" not in mods


def test_lvc_never_imports_training_code() -> None:
    mods = _loaded_after("import lvc.api, lvc.image, lvc.models.zoo")
    assert not {m for m in mods if m == "train" or m.startswith(("train.", "lightning"))}
