"""The frame loop and everything that decides what is coded: the code that can change decoded bits.

* ``encoder`` / ``decoder``: the loops, the reference buffer and access units;
* ``intra`` / ``inter``: the I- and P-frame coders (uint8 frames <-> streams), under the contract of
  ``frame_coder``; ``tensors``: the one conversion between frames and tensors they share;
* ``gop`` (pure, no torch), ``modes`` (the RD choice of I over P and λ), ``hierarchy`` (each frame's
  quality offset), ``ratecontrol`` and ``presets`` (pure): the encoder's decisions;
* ``motion_search``, ``refine``, ``rd_refine``: the flow the encoder codes (encoder only).

Nothing here imports ``lvc.tools``; this package file imports nothing, so ``lvc.codec.gop`` and
``lvc.codec.hierarchy`` and ``lvc.codec.ratecontrol`` load without torch.
"""
