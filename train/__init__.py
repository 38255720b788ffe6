"""Training for lvc (Lightning). Run as ``python -m train fit -c configs/intra.yaml``."""
