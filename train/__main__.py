"""``python -m train fit -c configs/intra.yaml`` (LightningCLI) or ``python -m train export CKPT --id ID``."""

from __future__ import annotations

import sys

import torch


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "export":
        from train.export import main as export_main

        sys.exit(export_main(sys.argv[2:]))
    from lightning.pytorch.cli import LightningCLI

    torch.set_float32_matmul_precision("high")
    LightningCLI(save_config_kwargs={"overwrite": True})


if __name__ == "__main__":
    main()
