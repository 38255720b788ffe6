"""The on-disk contract, stdlib only: the bitstream's units, varints and zigzag, and stream facts.

Nothing here imports torch or numpy, so ``lvc info`` and ``--help`` start fast, and a change to the
byte layout is visible as a change under this folder.
"""
