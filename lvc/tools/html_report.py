"""``lvc inspect --html``: one self-contained page with the plots and a frame scrubber.

The page opens from disk with no server and no network: images are inlined as base64 data URIs,
and the CSS and JavaScript are inline. It holds the summary table, the bits/PSNR figure, and a
scrubber over the pictured frames that shows the source, the decoded frame, or a wipe between the
two, with that frame's other panels (error heatmap; for P-frames flow, prediction and residual)
below.

Frames are JPEG previews (4:4:4, high quality, at most :data:`MAX_SIDE` pixels on a side) so that
the page stays a few MB for the default 30 frames; ``--dump`` writes lossless PNG panels.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field

import numpy as np

MAX_SIDE = 960
JPEG_QUALITY = 90


@dataclass(frozen=True)
class PageFrame:
    """One frame of the scrubber: its caption and its pictures, ``name -> (label, data URI)``, in display order."""

    index: int
    caption: str
    images: dict[str, tuple[str, str]]


def data_uri(rgb: np.ndarray, max_side: int = MAX_SIDE, quality: int = JPEG_QUALITY) -> str:
    """``rgb`` (H, W, 3) uint8 as a JPEG data URI, shrunk to ``max_side`` when larger."""
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if max(im.size) > max_side:
        scale = max_side / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality, subsampling=0)  # 4:4:4: no chroma blur on top of the codec's
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def caption(record) -> str:  # noqa: ANN001 - an lvc.tools.inspect.FrameRecord
    """One line about a frame: index, pts, type, quality, bytes, bpp and, when measured, PSNR and MS-SSIM."""
    text = (f"frame {record.index}  pts {record.pts}  {record.type}  q {record.quality:g}  {record.bytes} bytes  "
            f"{record.bpp:.4f} bpp")
    if record.psnr is not None:
        text += f"  PSNR {record.psnr:.2f} dB  Y {record.psnr_y:.2f} dB  MS-SSIM {record.ms_ssim:.4f}"
    return text


@dataclass
class PageFrames:
    """Collects the pictured frames during the inspection pass, as compressed previews only."""

    frames: list[PageFrame] = field(default_factory=list)

    def add(self, record, decoded: np.ndarray, source: np.ndarray | None, extras: dict) -> None:  # noqa: ANN001
        from lvc.tools.panels import frame_tiles

        images = {t.name: (t.label, data_uri(t.rgb)) for t in frame_tiles(decoded, source, extras)}
        self.frames.append(PageFrame(record.index, caption(record), images))


_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
pre.summary { background: #fff; border: 1px solid #ddd; padding: .6em; overflow-x: auto; font-size: 12px; }
img.plot { max-width: 100%; border: 1px solid #ddd; background: #fff; }
.controls { display: flex; flex-wrap: wrap; gap: .8em; align-items: center; margin: .8em 0; }
#scrubber { width: 22em; }
#caption { font-family: ui-monospace, monospace; font-size: 12px; }
#stage { position: relative; width: min(960px, 100%); line-height: 0; user-select: none; }
#stage img { width: 100%; image-rendering: pixelated; }
#stage img.over { position: absolute; left: 0; top: 0; }
#wipe-line { position: absolute; top: 0; bottom: 0; width: 2px; background: #ff0; display: none; }
#panels { display: flex; flex-wrap: wrap; gap: 1em; margin-top: 1em; }
#panels figure { margin: 0; width: min(320px, 45%); }
#panels img { width: 100%; image-rendering: pixelated; }
#panels figcaption { font-size: 12px; color: #555; }
.disabled { opacity: .4; }
"""

# The frames come from a JSON island rather than a JS literal, so no caption can break the script.
_JS = """
(function () {
  var frames = JSON.parse(document.getElementById('frames-data').textContent);
  var scrub = document.getElementById('scrubber'), wipe = document.getElementById('wipe');
  var under = document.getElementById('under'), over = document.getElementById('over');
  var line = document.getElementById('wipe-line'), panels = document.getElementById('panels');
  var hasSource = frames.length > 0 && 'source' in frames[0].images;
  if (!hasSource) {
    ['mode-source', 'mode-wipe', 'wipe'].forEach(function (id) {
      var el = document.getElementById(id); el.disabled = true; el.parentNode.classList.add('disabled');
    });
  }
  function mode() { return document.querySelector('input[name=mode]:checked').value; }
  function show() {
    var f = frames[+scrub.value], m = mode();
    document.getElementById('caption').textContent = f.caption + '  (' + (+scrub.value + 1) + '/' + frames.length + ')';
    var top = (m === 'source' && hasSource) ? f.images.source : f.images.decoded;
    under.src = top[1]; under.alt = top[0];
    var wiping = m === 'wipe' && hasSource;
    over.style.display = wiping ? 'block' : 'none';
    line.style.display = wiping ? 'block' : 'none';
    if (wiping) {
      under.src = f.images.source[1];
      over.src = f.images.decoded[1];
      over.style.clipPath = 'inset(0 0 0 ' + wipe.value + '%)';
      line.style.left = 'calc(' + wipe.value + '% - 1px)';
    }
    panels.textContent = '';
    Object.keys(f.images).forEach(function (name) {
      if (name === 'source' || name === 'decoded') return;
      var fig = document.createElement('figure'), img = document.createElement('img');
      var cap = document.createElement('figcaption');
      img.src = f.images[name][1]; img.alt = name; cap.textContent = f.images[name][0];
      fig.appendChild(img); fig.appendChild(cap); panels.appendChild(fig);
    });
  }
  function step(d) { scrub.value = Math.min(frames.length - 1, Math.max(0, +scrub.value + d)); show(); }
  scrub.addEventListener('input', show);
  wipe.addEventListener('input', show);
  document.querySelectorAll('input[name=mode]').forEach(function (r) { r.addEventListener('change', show); });
  document.getElementById('prev').addEventListener('click', function () { step(-1); });
  document.getElementById('next').addEventListener('click', function () { step(1); });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowLeft') step(-1); else if (e.key === 'ArrowRight') step(1);
  });
  if (frames.length) show();
})();
"""


def render_page(*, title: str, summary: str, plot_png: bytes | None, frames: list[PageFrame]) -> str:
    """The whole page as one string: ``summary`` is preformatted text, ``plot_png`` a PNG figure."""
    data = [{"index": f.index, "caption": f.caption, "images": {k: list(v) for k, v in f.images.items()}}
            for f in frames]
    # "</" inside the JSON island would end the <script> element early.
    island = json.dumps(data).replace("</", "<\\/")
    plot = ""
    if plot_png is not None:
        plot = f'<img class="plot" alt="bits and PSNR per frame" src="data:image/png;base64,' \
               f'{base64.b64encode(plot_png).decode("ascii")}">'
    last = max(len(frames) - 1, 0)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<pre class="summary">{html.escape(summary)}</pre>
{plot}
<h2>Frames</h2>
<div class="controls">
  <button id="prev" title="previous (left arrow)">&#9664;</button>
  <input type="range" id="scrubber" min="0" max="{last}" value="0" step="1" aria-label="frame">
  <button id="next" title="next (right arrow)">&#9654;</button>
  <span><label><input type="radio" name="mode" value="source" id="mode-source"> source</label></span>
  <span><label><input type="radio" name="mode" value="decoded" id="mode-decoded" checked> decoded</label></span>
  <span><label><input type="radio" name="mode" value="wipe" id="mode-wipe"> wipe (source | decoded)</label></span>
  <span><input type="range" id="wipe" min="0" max="100" value="50" aria-label="wipe position"></span>
</div>
<div id="caption"></div>
<div id="stage">
  <img id="under" alt=""><img id="over" class="over" alt="" style="display:none"><div id="wipe-line"></div>
</div>
<div id="panels"></div>
<script type="application/json" id="frames-data">{island}</script>
<script>{_JS}</script>
</body>
</html>
"""
