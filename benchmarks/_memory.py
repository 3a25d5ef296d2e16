"""Resident-memory readings shared by the benchmark scripts (``benchmarks/*.py`` import it by name,
since each script runs with ``benchmarks/`` on ``sys.path``)."""

from __future__ import annotations

import os
import resource
import sys


def peak_rss_mb() -> float:
    """Peak resident set size of this process, MiB: since the last :func:`reset_peak_rss` on Linux
    (``VmHWM`` of ``/proc/self/status``), else since the start (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def reset_peak_rss() -> bool:
    """Reset the peak (``VmHWM``) to the current resident set size (Linux: ``5`` to ``/proc/self/clear_refs``),
    so a later :func:`peak_rss_mb` measures one phase, not model building before it. False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def current_rss_mb() -> float:
    """Current resident set size, MiB (Linux ``/proc``; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except OSError:
        return peak_rss_mb()
