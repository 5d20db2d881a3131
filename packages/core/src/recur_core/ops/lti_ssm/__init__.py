"""A per-channel linear time-invariant state-space model (LSSL): ``naive`` (the recurrent view, ground
truth) and ``chunk`` (the convolutional view by chunks: Krylov taps by doubling, block-Toeplitz
convolution, the state carried between chunks)."""

from recur_core.ops.lti_ssm.chunk import chunk_lti_ssm
from recur_core.ops.lti_ssm.naive import bilinear_discretize, lti_ssm_step, naive_lti_ssm

__all__ = ["bilinear_discretize", "chunk_lti_ssm", "lti_ssm_step", "naive_lti_ssm"]
