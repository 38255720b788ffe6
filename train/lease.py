"""Training on a lent GPU (the device tool): ``python -m train.lease pack`` here, then ``run`` there.

A lease is a few minutes on one card, with a 64 MiB copy of the working tree and a few files back.
``pack`` puts what the card needs into ``.gpu/`` (gitignored): the training photos (PNGs re-coded
as JPEG q95 4:4:4, and BSDS500's test split left out, to fit the transfer) and the wheels its
Python lacks. ``run`` trains two lanes side by side, each stage on a time budget:

* intra: the shipped intra codec trained on (configs/intra.yaml + configs/gpu/intra.yaml);
* inter: RAFT on synthetic motion, then the motion, residual and joint stages of the P-frame codec
  (or, with ``--inter-from DIR``, the joint stage alone, continued from what a lease brought back).

It brings back slimmed checkpoints (``python -m train slim``) and the logs; export them here with
``python -m train export``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

PACK = Path(".gpu")
WHEELS = ("constriction==0.5.0", "jsonargparse==4.53.0", "docstring_parser==0.18.0", "typeshed_client==2.15.0")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


TRANSFER_MIB = 62.0  # of the 64 MiB a call may carry, leaving room for untracked odds and ends


def tracked_mib() -> float:
    """Size of the files git tracks (they travel with every call), in MiB."""
    names = subprocess.run(["git", "ls-files", "-z"], capture_output=True, check=True).stdout.split(b"\0")
    return sum(Path(n.decode()).stat().st_size for n in names if n and Path(n.decode()).is_file()) / 2**20


def pack(source: Path) -> None:
    """Fill ``.gpu/images`` from ``source`` and ``.gpu/whl`` with the wheels (Python 3.12, x86-64).

    Photos go in, largest sources first (the PNG sets), until the transfer budget left beside the
    tracked files is spent; BSDS500's test split never goes."""
    from PIL import Image

    images = PACK / "images"
    shutil.rmtree(images, ignore_errors=True)
    budget = (TRANSFER_MIB - tracked_mib() - 1.5) * 2**20  # 1.5 MiB: the wheels
    candidates = [f for f in sorted(source.rglob("*"))
                  if f.suffix.lower() in {".png", ".jpg", ".jpeg"} and "bsds500/test" not in f.as_posix()]
    total = 0
    for f in sorted(candidates, key=lambda f: f.suffix.lower() != ".png"):
        out = images / f.relative_to(source).with_suffix(".jpg")
        out.parent.mkdir(parents=True, exist_ok=True)
        if f.suffix.lower() == ".png":
            with Image.open(f) as im:
                im.convert("RGB").save(out, quality=95, subsampling=0)
        else:
            shutil.copy(f, out)
        if total + out.stat().st_size > budget:
            out.unlink()
            break
        total += out.stat().st_size
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(PACK / "whl"),
                    *WHEELS], check=True)
    kept = len(list(images.rglob("*.jpg")))
    print(f"packed {kept} of {len(candidates)} photos ({total / 2**20:.1f} MiB) and {len(WHEELS)} wheels into {PACK}/")


# A rehearsal runs every command here, on the CPU, for seconds per stage, on a few photos.
REHEARSAL = ["--trainer.accelerator=cpu", "--trainer.precision=32-true", "--trainer.max_time=00:00:00:20",
             "--trainer.benchmark=false", "--model.init_args.time_budget_s=15", "--data.init_args.batch_size=2",
             "--data.init_args.num_workers=0", "--data.init_args.limit_files=30"]
SLIM_GRACE_S = 60.0  # slimming the last checkpoint may run past the deadline: it is what comes back
SETUP_S = 60.0  # export, imports and data loading before a continued joint stage trains


class Step:
    """One command of a lane. ``always`` steps (bringing a checkpoint back) run after a failure too."""

    def __init__(self, cmd: list[str], *, always: bool = False, needs: Path | None = None) -> None:
        self.cmd, self.always, self.needs = cmd, always, needs


def _stage(name: str, extra: list[str]) -> Step:
    return Step([sys.executable, "-m", "train", "fit", "-c", f"configs/{name}.yaml", "-c", f"configs/gpu/{name}.yaml",
                 *extra])


def _slim(run: str, out: Path) -> Step:
    ckpt = Path(f"runs/gpu/{run}/ckpt/last.ckpt")
    return Step([sys.executable, "-m", "train", "slim", str(ckpt), str(out)], always=True, needs=ckpt)


def _export(run: str) -> Step:
    return Step([sys.executable, "-m", "train", "export", f"runs/gpu/{run}/ckpt/last.ckpt", "--id", run,
                 "--out-dir", "runs/gpu"])


def _clock(seconds: float) -> str:
    """Lightning's ``max_time`` format, DD:HH:MM:SS."""
    s = max(1, int(seconds))
    return f"00:{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _spec_of(weights: Path) -> list[str]:
    """The option that builds the inter codec a video weight file holds (temporal motion, the
    conditioner, ...): continued under the stage config's own spec, those parts would be refused."""
    if not weights.exists():  # planning on another machine than the one that runs it
        return []
    import json

    import torch

    spec = torch.load(weights, map_location="cpu", weights_only=True).get("inter_spec")
    return [f"--model.init_args.spec={json.dumps(spec)}"] if spec else []


def lanes(out: Path, extra: list[str], inter_from: Path | None = None, budget_s: float = 0.0
          ) -> dict[str, list[Step]]:
    """The steps of each lane, run in order; after a failure only ``always`` steps run.

    With ``inter_from`` (a video weight file such as ``lvc/weights/video-dct-hp.pt``, or a folder an
    earlier lease brought back: ``inter.ckpt`` and ``flow.ckpt``) the inter lane skips the stages
    behind it and spends the whole budget on the joint stage."""
    if inter_from is None:
        inter = [_stage("flow", extra), _slim("flow", out / "flow.ckpt")]
        for stage in ("inter_motion", "inter_residual", "inter_joint"):
            inter += [_stage(stage, extra), _slim(stage, out / "inter.ckpt")]
            if stage != "inter_joint":
                inter.append(_export(stage))
    else:  # a shipped video weight file, or a folder an earlier lease brought back
        train_s = budget_s - SETUP_S
        joint = ["--model.init_args.warmup_steps=20", f"--trainer.max_time={_clock(train_s)}",
                 f"--model.init_args.time_budget_s={0.95 * train_s:.0f}"]
        if inter_from.suffix == ".pt":  # RAFT is in the file's inter state, and its spec says what to build
            inter = [_stage("inter_joint", [f"--model.init_args.init_weights={inter_from}",
                                            "--model.init_args.flow_weights=null", *_spec_of(inter_from),
                                            *joint, *extra])]
        else:
            flow = inter_from / "flow.ckpt"
            inter = [Step([sys.executable, "-m", "train", "export", str(inter_from / "inter.ckpt"), "--id",
                           "inter_from", "--out-dir", "runs/gpu", "--flow", str(flow)]),
                     _stage("inter_joint", ["--model.init_args.init_weights=runs/gpu/inter_from.pt",
                                            f"--model.init_args.flow_weights={flow}", *joint, *extra])]
        inter.append(_slim("inter_joint", out / "inter.ckpt"))
    return {"intra": [_stage("intra", extra), _slim("intra", out / "intra.ckpt")], "inter": inter}


def run(out: Path, budget_s: float, extra: list[str], inter_from: Path | None = None,
        only: str | None = None) -> int:
    """Run the lanes (or the ``only`` one) in parallel until done or ``budget_s``; then bring back logs and
    metrics."""
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + budget_s
    status: dict[str, str] = {}

    def lane(name: str, steps: list[Step]) -> None:
        failed = ""
        with open(out / f"{name}.log", "w") as log:
            for i, step in enumerate(steps):
                if (failed and not step.always) or (step.needs and not step.needs.exists()):
                    continue
                log.write(f"\n$ {' '.join(step.cmd)}\n")
                log.flush()
                left = deadline - time.monotonic() + (SLIM_GRACE_S if step.always else 0.0)
                try:
                    rc = subprocess.run(step.cmd, stdout=log, stderr=subprocess.STDOUT,
                                        timeout=max(1.0, left)).returncode
                except subprocess.TimeoutExpired:
                    rc = "timeout"
                if rc != 0 and not failed:
                    failed = f"failed at step {i + 1} of {len(steps)} ({rc})"
        status[name] = failed or "done"

    threads = [threading.Thread(target=lane, args=item)
               for item in lanes(out, extra, inter_from, budget_s).items() if only in (None, item[0])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with tarfile.open(out / "logs.tar.gz", "w:gz") as tar:
        for f in [*Path("runs/gpu").rglob("metrics.csv"), *Path("runs/gpu").rglob("config.yaml")]:
            tar.add(f)
    for name, state in status.items():
        print(f"{name}: {state}")
    return 0 if all(s == "done" for s in status.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.lease", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="fill .gpu/ with the photos and wheels (here)")
    p.add_argument("--source", type=Path, default=Path("../shared/data/train_images"))
    r = sub.add_parser("run", help="train both lanes (on the GPU machine)")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--budget", type=float, default=550.0, help="seconds for everything")
    r.add_argument("--rehearse", action="store_true", help="run every step here on the CPU, for seconds each")
    r.add_argument("--inter-from", type=Path,
                   help="continue the joint stage from a video weight file or what an earlier lease brought back")
    r.add_argument("--only", choices=("intra", "inter"), help="run one lane, with the whole card")
    args = parser.parse_args(argv)
    if args.command == "pack":
        pack(args.source)
        return 0
    return run(args.out, args.budget, REHEARSAL if args.rehearse else [], args.inter_from, args.only)


if __name__ == "__main__":
    sys.exit(main())
