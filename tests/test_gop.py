import pytest
import numpy as np

from lvc.codec.gop import GopScheduler
from tests.conftest import natural_image


def _frames(n: int, cut_at: int | None = None) -> list[np.ndarray]:
    a = natural_image(48, 64)
    b = 255 - a
    return [(b if cut_at is not None and i >= cut_at else a) for i in range(n)]


def test_fixed_period() -> None:
    g = GopScheduler(period=4)
    assert "".join(g.decide(f) for f in _frames(10)) == "IPPPIPPPIP"


def test_all_intra() -> None:
    g = GopScheduler(period=1)
    assert "".join(g.decide(f) for f in _frames(5)) == "IIIII"


def test_scene_cut_restarts_the_gop() -> None:
    g = GopScheduler(period=4, scene_cuts=True)
    assert "".join(g.decide(f) for f in _frames(10, cut_at=6)) == "IPPPIPIPPP"
    g = GopScheduler(period=4, scene_cuts=False)
    assert "".join(g.decide(f) for f in _frames(10, cut_at=6)) == "IPPPIPPPIP"


def test_restart_counts_the_period_from_an_adaptive_i_frame() -> None:
    g = GopScheduler(period=4)
    types = [g.decide(f) for f in _frames(3)]
    g.restart()  # frame 2 was coded as I after all
    assert "".join(types) + "".join(g.decide(f) for f in _frames(5)) == "IPP" + "PPPIP"  # I again 4 after frame 2


def test_rd_mode_decision_weighs_bits_against_distortion() -> None:
    import pytest

    from lvc.codec.modes import RdModeDecision

    ladder = (0.001, 0.004, 0.016)
    assert RdModeDecision(ladder, 2).lam == pytest.approx(0.004)
    assert RdModeDecision(ladder, 2.5).lam == pytest.approx(0.008)  # geometric, as the gains
    assert RdModeDecision(ladder, 9).lam == pytest.approx(0.016)
    src = np.zeros((4, 4, 3), np.uint8)
    off_by_10 = src + 10  # SSE 4800
    d = RdModeDecision(ladder, 1)
    assert d.cost(100, off_by_10, src) == pytest.approx(800 + 0.001 * 4800 / 3)
    # cheaper and as good wins; at a high λ, a few more bytes buy a much better frame
    assert d.prefer_intra((90, off_by_10), (100, off_by_10), src)
    assert not RdModeDecision((1e-9, 1e-9), 1).prefer_intra((110, src), (100, off_by_10), src)
    assert RdModeDecision((1.0, 1.0), 1).prefer_intra((110, src), (100, off_by_10), src)


def test_intra_trial_only_where_the_p_frame_is_expensive() -> None:
    from lvc.codec.modes import RdModeDecision

    src = np.zeros((4, 4, 3), np.uint8)
    d = RdModeDecision((1e-9, 1e-9), 1, trial_ratio=0.75)
    assert d.worth_trying_intra((10, src), src)  # no I-frame yet to compare with
    d.note_intra(100, src, src)
    assert not d.worth_trying_intra((70, src), src)
    assert d.worth_trying_intra((80, src), src)


def test_the_encoders_lambda_is_the_training_ladder() -> None:
    """λ is interpolated log-linearly between the anchors in both places it is computed: the encoder's
    float64 numpy (its choices must not move by a bit) and the training loss's torch."""
    import torch

    from lvc.codec.modes import rd_lambda
    from train.losses import lambda_at

    ladder = (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932, 0.18)
    qs = [1.0, 1.25, 2.5, 3.999, 4.0, 6.7, 8.0]
    trained = lambda_at(torch.tensor(ladder, dtype=torch.float64).log(), torch.tensor(qs, dtype=torch.float64))
    for q, lam in zip(qs, trained.tolist()):
        assert rd_lambda(ladder, q) == pytest.approx(lam, rel=1e-12)
