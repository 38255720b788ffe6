"""``python -m train fit -c configs/intra.yaml`` (LightningCLI), ``python -m train export CKPT --id ID``, or
``python -m train slim CKPT OUT`` (a checkpoint without optimizer state, for bringing back from a GPU), or
``python -m train fetch-video [DIR]`` (the generated clips that ``configs/inter_real.yaml`` also trains on), or
``python -m train calibrate WEIGHTS --out FILE`` (the ranges that make a weight file decode exactly)."""

from __future__ import annotations

import sys

import torch


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "export":
        from train.export import main as export_main

        sys.exit(export_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "calibrate":
        from train.calibrate import main as calibrate_main

        sys.exit(calibrate_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "fetch-video":
        from train.fetch import main as fetch_main

        sys.exit(fetch_main(sys.argv[2:]))
    if len(sys.argv) == 4 and sys.argv[1] == "slim":
        from train.export import slim_checkpoint

        print(f"wrote {slim_checkpoint(sys.argv[2], sys.argv[3])}")
        sys.exit(0)
    from lightning.pytorch.cli import LightningCLI

    torch.set_float32_matmul_precision("high")
    LightningCLI(save_config_kwargs={"overwrite": True})


if __name__ == "__main__":
    main()
