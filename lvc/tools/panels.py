"""Pictures of one decoded frame for inspection: error heatmap, flow colours, residual, and a labelled panel.

Everything here is pure image work on numpy arrays, (H, W, 3) uint8 out; :mod:`lvc.tools.inspect` feeds
it the decoded frame, the source frame (with ``--ref``) and the decoder's intermediates
(``DecodedFrame.extras``: ``flow`` (H, W, 2) float32 in pixels, ``prediction`` (H, W, 3) uint8,
``residual`` (H, W, 3) float32), which only P-frames carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

ERROR_SCALE = 32.0
"""Mean absolute RGB error (0-255 levels) drawn at full heat. Fixed, not per frame, so that frames compare
when scrubbing; larger errors saturate."""

# Anchors of matplotlib's "inferno" at 0, 1/4, 1/2, 3/4, 1: perceptually ordered and readable in grey,
# without needing matplotlib for a dump.
_HEAT = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float64)

LABEL_HEIGHT = 14
_PAD = 4


@dataclass(frozen=True)
class Tile:
    """One picture of a panel: ``name`` is a stable key (file names, HTML), ``label`` what is drawn above it."""

    name: str
    label: str
    rgb: np.ndarray


def _check_rgb(name: str, image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name}: expected an (H, W, 3) image, got shape {image.shape}")


def heat(values: np.ndarray) -> np.ndarray:
    """Map ``values`` in [0, 1] (any shape) to inferno-like colours, shape ``values.shape + (3,)`` uint8."""
    v = np.clip(np.nan_to_num(values.astype(np.float64)), 0.0, 1.0) * (len(_HEAT) - 1)
    k = np.minimum(np.floor(v).astype(np.int64), len(_HEAT) - 2)
    f = (v - k)[..., None]
    return np.rint(_HEAT[k] * (1 - f) + _HEAT[k + 1] * f).astype(np.uint8)


def error_heatmap(source: np.ndarray, decoded: np.ndarray, scale: float = ERROR_SCALE) -> np.ndarray:
    """Per-pixel mean absolute RGB error of ``decoded`` against ``source``, as a heatmap (0 black, ``scale`` and
    more bright yellow)."""
    _check_rgb("source", source)
    _check_rgb("decoded", decoded)
    if source.shape != decoded.shape:
        raise ValueError(f"source is {source.shape} but decoded is {decoded.shape}; they must match")
    err = np.abs(source.astype(np.int16) - decoded.astype(np.int16)).mean(axis=2)
    return heat(err / scale)


def flow_to_rgb(flow: np.ndarray) -> np.ndarray:
    """Optical flow ``(H, W, 2)`` (x, y displacement in pixels) as colours of the Middlebury wheel.

    Baker et al., "A Database and Evaluation Methodology for Optical Flow" (ICCV 2007), through
    ``torchvision.utils.flow_to_image``: hue is the direction (rightward motion is red), saturation the
    magnitude relative to the largest in the frame, and zero motion is white.
    """
    import torch
    from torchvision.utils import flow_to_image

    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow: expected an (H, W, 2) array, got shape {flow.shape}")
    t = torch.from_numpy(np.ascontiguousarray(np.nan_to_num(flow), dtype=np.float32)).permute(2, 0, 1)
    return flow_to_image(t).permute(1, 2, 0).numpy()


def residual_to_rgb(residual: np.ndarray) -> np.ndarray:
    """A signed residual ``(H, W, 3)`` as mid-grey plus the residual, stretched so its largest magnitude
    reaches black or white (the residual's unit, pixels or [0, 1], does not matter)."""
    _check_rgb("residual", residual)
    r = np.nan_to_num(residual.astype(np.float64))
    peak = float(np.abs(r).max())
    if peak == 0:
        return np.full(r.shape, 128, dtype=np.uint8)
    return np.clip(np.rint(127.5 + 127.5 * r / peak), 0, 255).astype(np.uint8)


def frame_tiles(decoded: np.ndarray, source: np.ndarray | None = None,
                extras: Mapping[str, np.ndarray] | None = None) -> list[Tile]:
    """The pictures of one frame, in display order: source and error heatmap (when the source is known),
    decoded, and for P-frames the decoded flow, the motion-compensated prediction and the residual."""
    _check_rgb("decoded", decoded)
    extras = extras or {}
    tiles = []
    if source is not None:
        tiles.append(Tile("source", "source", source))
    tiles.append(Tile("decoded", "decoded", decoded))
    if source is not None:
        tiles.append(Tile("error", f"|error| 0-{ERROR_SCALE:g}", error_heatmap(source, decoded)))
    if "flow" in extras:
        flow = extras["flow"]
        peak = float(np.sqrt((np.nan_to_num(flow.astype(np.float64)) ** 2).sum(axis=-1)).max()) if flow.size else 0.0
        tiles.append(Tile("flow", f"flow (max {peak:.1f} px)", flow_to_rgb(flow)))
    if "prediction" in extras:
        prediction = extras["prediction"]
        _check_rgb("prediction", prediction)
        tiles.append(Tile("prediction", "prediction", np.clip(prediction, 0, 255).astype(np.uint8)))
    if "residual" in extras:
        tiles.append(Tile("residual", "residual", residual_to_rgb(extras["residual"])))
    return tiles


def _label(text: str, width: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    strip = Image.new("RGB", (width, LABEL_HEIGHT), (255, 255, 255))
    ImageDraw.Draw(strip).text((2, 1), text, fill=(0, 0, 0))
    return np.asarray(strip)


def compose_panel(tiles: list[Tile], columns: int = 3) -> np.ndarray:
    """Lay ``tiles`` out on a white grid, ``columns`` wide, each under its label; (H, W, 3) uint8."""
    if not tiles:
        raise ValueError("compose_panel needs at least one tile")
    for t in tiles:
        _check_rgb(t.name, t.rgb)
    # Labels need some width even for tiny frames, or they would be cut to a few letters.
    cell_w = max(max(t.rgb.shape[1] for t in tiles), 96)
    cell_h = max(t.rgb.shape[0] for t in tiles) + LABEL_HEIGHT
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    out = np.full((rows * cell_h + (rows + 1) * _PAD, columns * cell_w + (columns + 1) * _PAD, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        top = _PAD + (i // columns) * (cell_h + _PAD)
        left = _PAD + (i % columns) * (cell_w + _PAD)
        out[top:top + LABEL_HEIGHT, left:left + cell_w] = _label(t.label, cell_w)
        h, w = t.rgb.shape[:2]
        out[top + LABEL_HEIGHT:top + LABEL_HEIGHT + h, left:left + w] = t.rgb
    return out
