r"""Floating-point operations of the chunked matmul ops, counted from their shapes.

Conventions, the same for every op:

* only the matrix products (and triangular solves) the chunked form executes are counted: a product
  of an m × k by a k × n matrix is 2 m k n FLOPs, whether or not a mask later zeroes part of it (the
  intra-chunk C × C products are computed dense, so the masked half is counted); elementwise work
  (exp of decays, masks, gates, the state carry's decay-and-add, padding) is not;
* sequences are counted at their padded length, a whole number of chunks, as the op computes them;
* the functions give the forward pass. A forward+backward pass is counted as 3 × the forward
  (:data:`FORWARD_BACKWARD`): every product :math:`Y = A B` costs two more of its size in the backward,
  :math:`dA = dY B^\top` and :math:`dB = A^\top dY`. The usual model-FLOP convention; for a triangular
  solve the true backward is a solve and a product, about 3 × rather than 2 ×, so for the delta rule it
  slightly undercounts.

The products counted are exactly those that ``torch.utils.flop_counter.FlopCounterMode`` sees in each op's
forward pass (it does not see the solve); ``packages/core/tests/test_bench_flops.py`` checks that.
"""

from __future__ import annotations

__all__ = ["FORWARD_BACKWARD", "delta_rule_flops", "linear_attn_flops", "lti_ssm_flops"]

FORWARD_BACKWARD = 3


def _padded(seq_len: int, chunk: int) -> int:
    return -(-seq_len // chunk) * chunk


def linear_attn_flops(batch: int, seq_len: int, heads: int, key_dim: int, value_dim: int, chunk: int) -> int:
    r"""Forward FLOPs of :func:`recur_core.ops.linear_attn.chunk_linear_attn` with chunks of ``chunk`` tokens.

    Per chunk of C tokens (and per batch row and head), with K = ``key_dim`` and V = ``value_dim``
    (V + 1 with ``normalize``, whose normaliser rides as one more value column):

    * intra-chunk scores :math:`Q K^\top`: 2 C² K;
    * the masked product with the values, ``attn @ v``: 2 C² V;
    * the state update :math:`K_{\text{out}}^\top V`: 2 C K V;
    * the readout from the chunk's start state, :math:`Q_{\text{in}} S_n`: 2 C K V.

    With a decay per key whose chunks cannot factor, the scores are one product of the same size plus
    elementwise diagonal blocks (not counted); the recomputation of the few steep chunks when most
    factor is not counted either.
    """
    per_chunk = 2 * chunk * chunk * (key_dim + value_dim) + 4 * chunk * key_dim * value_dim
    return batch * heads * _padded(seq_len, chunk) // chunk * per_chunk


def delta_rule_flops(batch: int, seq_len: int, heads: int, key_dim: int, value_dim: int, chunk: int) -> int:
    r"""Forward FLOPs of :func:`recur_core.ops.delta_rule.chunk_delta_rule` with chunks of ``chunk`` tokens
    (the op uses min(C, T)).

    Per chunk of C tokens (and per batch row and head), K = ``key_dim``, V = ``value_dim``:

    * :math:`K K^\top` for the UT transform's lower triangle: 2 C² K;
    * the unit-lower-triangular solve for :math:`[W, \tilde U]` (K + V right-hand columns, each
      C (C − 1) / 2 multiply-adds): C (C − 1) (K + V);
    * the chunk's state step, :math:`U_n = \tilde U_n - W_n S_n` and :math:`S_{n+1} = S_n + K_n^\top U_n`:
      2 × 2 C K V;
    * the outputs :math:`Q_n S_n + \mathrm{tril}(Q_n K_n^\top) U_n`: 2 C K V + 2 C² K + 2 C² V.
    """
    per_chunk = (
        4 * chunk * chunk * key_dim
        + chunk * (chunk - 1) * (key_dim + value_dim)
        + 6 * chunk * key_dim * value_dim
        + 2 * chunk * chunk * value_dim
    )
    return batch * heads * _padded(seq_len, chunk) // chunk * per_chunk


def lti_ssm_flops(batch: int, seq_len: int, channels: int, state_dim: int, chunk: int) -> int:
    r"""Forward FLOPs of :func:`recur_core.ops.lti_ssm.chunk_lti_ssm` with chunks of m = ``chunk`` steps (the op
    rounds its ``chunk_size`` down to a power of two and to at most the next power of two ≥ T).

    With H = ``channels`` and N = ``state_dim``:

    * the kernel, once per channel: log2 m squarings :math:`\bar A^{2^k}` (2 N³ each), the two Krylov
      sequences :math:`\bar A^j \bar B` and :math:`C \bar A^{j+1}` by doubling (2 N² (m − 1) each),
      :math:`C \bar A` (2 N²) and the taps :math:`C \bar A^j \bar B` (2 N m);
    * per chunk, batch row and channel: the Toeplitz product 2 m², folding the input into a state
      2 m N, carrying the state :math:`\bar A^m s` 2 N², and reading it out 2 m N;
    * the final state, per batch row and channel (every row T steps long): :math:`\bar A^r` applied by
      binary powering, one 2 N² product per bit of r = the steps in the last chunk, and their fold 2 m N.
    """
    log_m = chunk.bit_length() - 1
    n = state_dim
    kernel = channels * (2 * log_m * n**3 + 4 * n**2 * (chunk - 1) + 2 * n**2 + 2 * n * chunk)
    per_chunk = 2 * chunk * chunk + 4 * chunk * n + 2 * n * n
    last = (seq_len - 1) % chunk + 1
    final = 2 * n * n * last.bit_length() + 2 * chunk * n
    return kernel + batch * channels * (_padded(seq_len, chunk) // chunk * per_chunk + final)
