"""The README's commands are the ones that work: install/test lines match CI, the main command runs."""

from __future__ import annotations

import re
import shlex

import pytest

from lvc.cli import main
from lvc.models.zoo import DEFAULT_IMAGE_MODEL, weight_path
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_ci_runs_the_readme_install_and_test_commands() -> None:
    ci = (ROOT / ".ci/run").read_text()
    install, main_cmd, test = (b.strip() for b in _blocks()[:3])
    assert install in ci and test in ci
    assert main_cmd.startswith("lvc encode samples/")


def test_main_command_runs_on_the_sample(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    if not weight_path(DEFAULT_IMAGE_MODEL).exists():
        pytest.skip("shipped weights not present")
    monkeypatch.chdir(ROOT)
    main_cmd = _blocks()[1].strip()
    for part in main_cmd.split("&&"):
        argv = shlex.split(part)
        assert argv[0] == "lvc"
        argv = [str(tmp_path / a) if a.startswith("hopper") else a for a in argv[1:]]
        assert main([*argv, "--quiet"]) == 0
    assert (tmp_path / "hopper_decoded.mp4").stat().st_size > 0
