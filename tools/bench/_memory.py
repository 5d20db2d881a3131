"""Peak resident memory of one call, for the benches that print memory beside speed (Linux with glibc)."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path

# glibc mallopt parameters: M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def fix_malloc_for_peaks() -> None:
    """Make every large allocation an mmap that is unmapped on free, so the resident peak is the live memory's.

    Raises:
        ValueError: not Linux with glibc and a writable ``/proc/self/clear_refs`` (peaks cannot be measured).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 64 * 1024) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 128 * 1024) == 1
        Path("/proc/self/clear_refs").write_text("5")
    except OSError as err:
        raise ValueError(f"peak memory needs Linux with glibc ({err}); run on Linux or pass --no-memory") from None
    if not ok:
        raise ValueError("glibc refused mallopt(M_MMAP_THRESHOLD); run on Linux/glibc or pass --no-memory")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise ValueError(f"/proc/self/status has no {field}; run on Linux or pass --no-memory")


def peak_megabytes(run: Callable[[], object]) -> float:
    """Megabytes that one call of ``run`` adds at its peak to the process's resident memory (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
    before = _status_kb("VmRSS")
    run()
    return (_status_kb("VmHWM") - before) / 1024
