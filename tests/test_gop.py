import numpy as np

from lvc.gop import GopScheduler
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
