"""Export a training checkpoint to shipped weights: ``python -m train export CKPT --id NAME``."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from lvc.models.builders import ImageCodecSpec, InterCodecSpec, build_image_codec
from lvc.models.zoo import WEIGHTS_DIR, file_hash, load_state


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
    return _codec_from_blob(_load(ckpt), str(ckpt))


def _load(ckpt: str | Path) -> dict:
    return torch.load(ckpt, map_location="cpu", weights_only=False)


def _is_inter(blob: dict) -> bool:
    """Whether a checkpoint is an InterModule's (else an IntraModule's)."""
    return "intra_weights" in blob["hyper_parameters"]


def _codec_from_blob(blob: dict, source: str) -> tuple[torch.nn.Module, ImageCodecSpec, dict]:
    spec = blob["hyper_parameters"].get("spec") or ImageCodecSpec()
    if isinstance(spec, dict):
        spec = ImageCodecSpec(**spec)
    codec = build_image_codec(spec)
    prefix = "codec."
    codec.load_state_dict({k[len(prefix):]: v for k, v in blob["state_dict"].items() if k.startswith(prefix)})
    meta = {"steps": int(blob.get("global_step", 0)) + int(blob.get("step_offset", 0)),
            "cpu_hours": float(blob.get("cpu_seconds", 0.0)) / 3600,
            "gpu_hours": float(blob.get("gpu_seconds", 0.0)) / 3600,
            "lambdas": [float(v) for v in blob["hyper_parameters"]["lambdas"]], "source": source}
    return prepare_for_shipping(codec), spec, meta


def _inter_module_from_blob(blob: dict, flow: str | Path | None, source: str) -> torch.nn.Module:
    """The :class:`train.inter.InterModule` of a loaded checkpoint, full or slimmed (:func:`slim_checkpoint`).

    The state comes from the checkpoint (the warm-start files it was trained from need not exist
    here). A slimmed one lacks the frozen parts: the intra codec, rebuilt from its ``intra_weights``,
    and RAFT, loaded from ``flow`` (the flow checkpoint it trained with)."""
    from train.inter import InterModule

    hp = {k: v for k, v in blob["hyper_parameters"].items() if not k.startswith("_")}
    # Built float: what ships is the float model, whose grids `train calibrate` derives (train.qat trains on them).
    module = InterModule(**{**hp, "flow_weights": str(flow) if flow else None, "init_weights": None,
                            "quant_aware": False})
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in blob["state_dict"].items()}
    missing, unexpected = module.load_state_dict(state, strict=False)
    frozen = ("intra.", "inter.flow.") if flow else ("intra.",)
    if unexpected or any(not k.startswith(frozen) for k in missing):
        raise ValueError(f"{source} does not match InterModule: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return module


def slim_checkpoint(ckpt: str | Path, out: str | Path) -> Path:
    """Copy a training checkpoint without optimizer state, floats in fp16 (as shipped) and, for an
    inter checkpoint, without the parts it keeps frozen (the intra codec and RAFT): what a GPU lease
    brings back is 3–6x smaller. Exporting it (with ``flow``) gives the weights the full one gives."""
    blob = _load(ckpt)
    inter = _is_inter(blob)
    keep = ("hyper_parameters", "global_step", "step_offset", "cpu_seconds", "gpu_seconds", "pytorch-lightning_version")
    slim = {k: blob[k] for k in keep if k in blob}
    slim["state_dict"] = {k: (v.half() if v.is_floating_point() else v) for k, v in blob["state_dict"].items()
                          if not (inter and k.startswith(("intra.", "inter.flow.")))}
    out = Path(out)
    torch.save(slim, out)
    return out


def export_checkpoint(ckpt: str | Path, model_id: str, out_dir: Path = WEIGHTS_DIR,
                      intra: str | None = None, flow: str | None = None, note: str | None = None) -> Path:
    """Export a checkpoint of :class:`train.intra.IntraModule` (an image model) or of
    :class:`train.inter.InterModule` (a video model: its intra codec plus the P-frame codec).

    ``intra`` (weights name or path) pairs the P-frame codec with other intra weights than the ones
    it trained with, e.g. an intra model that trained on since, of its own spec (such as one with a
    spatial context that the training's intra codec lacked). ``flow`` is the
    RAFT checkpoint of a slimmed inter checkpoint. ``note`` (what trained it) goes into the meta.
    """
    blob = _load(ckpt)
    extra = {"note": note} if note else {}
    if not _is_inter(blob):
        codec, spec, meta = _codec_from_blob(blob, str(ckpt))
        return export_codec(codec, spec, model_id, out_dir, {**meta, **extra})
    module = _inter_module_from_blob(blob, flow, str(ckpt))
    # The λ ladder it trained with: the encoder's rate–distortion choice of I over P uses it.
    meta = {"source": str(ckpt), "steps": int(blob.get("global_step", 0)),
            "lambdas": [float(v) for v in module.hparams.lambdas], **extra}
    intra_codec, intra_spec = module.intra, module.intra_spec
    if intra is not None:
        state, intra_meta = load_state(intra, with_meta=True)
        intra_spec = ImageCodecSpec(**intra_meta["spec"])
        intra_codec = build_image_codec(intra_spec)
        intra_codec.load_state_dict(state)
        trained = {k: v for k, v in intra_meta.items() if k in ("steps", "cpu_hours", "gpu_hours")}
        meta["intra"] = {"source": str(intra), **trained}
    return export_codec(intra_codec, intra_spec, model_id, out_dir, meta, inter=module.inter, inter_spec=module.spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train export", description=__doc__)
    parser.add_argument("checkpoint")
    parser.add_argument("--id", required=True, help="model id (file name under lvc/weights)")
    parser.add_argument("--out-dir", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--intra", help="video models: pair the P-frame codec with these intra weights")
    parser.add_argument("--flow", help="slimmed video checkpoints: the RAFT checkpoint they trained with")
    parser.add_argument("--note", help="what trained it (steps, data, machine), kept in the file's meta")
    args = parser.parse_args(argv)
    path = export_checkpoint(args.checkpoint, args.id, args.out_dir, args.intra, args.flow, args.note)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, hash {file_hash(path).hex()})")
    return 0
