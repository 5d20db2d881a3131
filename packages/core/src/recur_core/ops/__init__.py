"""Sequence ops: ``ops/<op>/naive.py`` (the paper's equation as a plain loop, the ground truth)
beside the fast exact forms (``chunk.py``, ``scan.py``, ...). Ops take ``[B, T, H, D]`` tensors and
an ``initial_state`` and return ``(output, final_state)``."""
