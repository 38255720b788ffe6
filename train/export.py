"""Export a training checkpoint to shipped weights: ``python -m train export CKPT --id NAME``."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from lvc.models.builders import ImageCodecSpec, InterCodecSpec, build_image_codec
from lvc.models.zoo import WEIGHTS_DIR, file_hash


def prepare_for_shipping(codec: torch.nn.Module) -> torch.nn.Module:
    """Round every float to fp16 (as stored), then build the coding tables from those values, so
    what is measured before export is exactly what ships."""
    codec = codec.cpu().eval()
    with torch.no_grad():
        for t in [*codec.parameters(), *codec.buffers()]:
            if t.is_floating_point():
                t.copy_(t.half().float())
    codec.update()
    return codec


def _fp16_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: (v.half() if v.is_floating_point() else v) for k, v in module.state_dict().items()}


def export_codec(codec: torch.nn.Module, spec: ImageCodecSpec, model_id: str, out_dir: Path = WEIGHTS_DIR,
                 meta: dict | None = None, inter: torch.nn.Module | None = None,
                 inter_spec: InterCodecSpec | None = None) -> Path:
    """Build the coding tables and write ``<out_dir>/<model_id>.pt`` (fp16 floats); with ``inter``, a
    "video" file that also holds the P-frame codec."""
    blob = {"format": 1, "id": model_id, "kind": "image", "spec": spec.to_dict(),
            "state_dict": _fp16_state(prepare_for_shipping(codec)), "meta": meta or {}}
    if inter is not None:
        if inter_spec is None:
            raise ValueError("an inter codec needs its InterCodecSpec")
        blob.update(kind="video", inter_spec=inter_spec.to_dict(), inter_state=_fp16_state(prepare_for_shipping(inter)))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{model_id}.pt"
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)
    return path


def codec_from_checkpoint(ckpt: str | Path) -> tuple[torch.nn.Module, ImageCodecSpec, dict]:
    """The codec of a :class:`train.intra.IntraModule` checkpoint, rounded to fp16 as shipped, with
    coding tables built; and ``meta`` (steps, CPU-hours)."""
    blob = torch.load(ckpt, map_location="cpu", weights_only=False)
    spec = blob["hyper_parameters"].get("spec") or ImageCodecSpec()
    if isinstance(spec, dict):
        spec = ImageCodecSpec(**spec)
    codec = build_image_codec(spec)
    prefix = "codec."
    codec.load_state_dict({k[len(prefix):]: v for k, v in blob["state_dict"].items() if k.startswith(prefix)})
    meta = {"steps": int(blob.get("global_step", 0)) + int(blob.get("step_offset", 0)), "cpu_hours": float(blob.get("cpu_seconds", 0.0)) / 3600,
            "source": str(ckpt)}
    return prepare_for_shipping(codec), spec, meta


def export_checkpoint(ckpt: str | Path, model_id: str, out_dir: Path = WEIGHTS_DIR) -> Path:
    """Export a checkpoint of :class:`train.intra.IntraModule` (an image model) or of
    :class:`train.inter.InterModule` (a video model: its intra codec plus the P-frame codec)."""
    hp = torch.load(ckpt, map_location="cpu", weights_only=False)["hyper_parameters"]
    if "intra_weights" not in hp:
        codec, spec, meta = codec_from_checkpoint(ckpt)
        return export_codec(codec, spec, model_id, out_dir, meta)
    from train.inter import InterModule

    module = InterModule.load_from_checkpoint(ckpt, map_location="cpu")
    return export_codec(module.intra, module.intra_spec, model_id, out_dir, {"source": str(ckpt)},
                        inter=module.inter, inter_spec=module.spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train export", description=__doc__)
    parser.add_argument("checkpoint")
    parser.add_argument("--id", required=True, help="model id (file name under lvc/weights)")
    parser.add_argument("--out-dir", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args(argv)
    path = export_checkpoint(args.checkpoint, args.id, args.out_dir)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, hash {file_hash(path).hex()})")
    return 0
