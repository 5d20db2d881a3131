"""First-order linear recurrences :math:`h_t = a_t h_{t-1} + b_t` (elementwise, any sign): ``naive``
(the step loop, ground truth) and ``chunk`` (the chunked parallel scan with a reversed-scan backward);
plus :func:`associative_scan`, a log-depth scan under any associative operator."""

from recur_core.ops.scan.associative import associative_scan
from recur_core.ops.scan.chunk import blelloch_scan_, chunk_linear_recurrence
from recur_core.ops.scan.naive import naive_linear_recurrence

__all__ = ["associative_scan", "blelloch_scan_", "chunk_linear_recurrence", "naive_linear_recurrence"]
