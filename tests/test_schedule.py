"""The shared learning-rate schedule: by steps, and by seconds for fixed-length GPU leases."""

from __future__ import annotations

import pytest

import train.schedule
from train.schedule import WarmupCosine


def test_steps_warm_up_then_anneal_to_the_floor() -> None:
    f = WarmupCosine(warmup_steps=10, decay_steps=110, floor=0.1)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55)
    assert f(110) == pytest.approx(0.1) and f(10_000) == pytest.approx(0.1)


def test_time_budget_anneals_on_seconds_whatever_the_step(monkeypatch) -> None:  # noqa: ANN001
    now = [100.0]
    monkeypatch.setattr(train.schedule.time, "monotonic", lambda: now[0])
    f = WarmupCosine(warmup_steps=2, decay_steps=10, floor=0.0, budget_s=50.0)
    assert f(1) == pytest.approx(1.0)
    assert f(2) == pytest.approx(1.0)  # the clock starts after the warm-up
    now[0] += 25
    assert f(3) == pytest.approx(0.5)  # half the seconds gone, though 10 steps would say otherwise
    now[0] += 25
    assert f(4) == pytest.approx(0.0) and f(5000) == pytest.approx(0.0)
