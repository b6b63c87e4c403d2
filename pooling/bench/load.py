"""Whether the machine was loaded when the run started: the 1-minute load
average against the cores, and the share of the CPUs' time that went to
work (not idle) over 0.2 s while the benchmark slept (Linux's /proc/stat).
bench() checks before its first measurement, so the contention section's
busy processes, which it starts later and on purpose, are not counted."""
from __future__ import annotations

import os
import time

# Loaded: a load average of at least one runnable process per core, or
# other processes taking at least this share of all the CPUs' time over
# SAMPLE_SECONDS (on 2 cores, one busy process is 0.5: it takes a core
# from the benchmark's threads).
BUSY_SHARE = 0.5
SAMPLE_SECONDS = 0.2


def load_average():
    """os.getloadavg()'s 1-minute figure, None where there is none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _cpu_times():
    """(busy, total) jiffies of all CPUs from /proc/stat's first line, None
    without it.  Idle is idle + iowait."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal (guest time is in user)
    ticks = [int(v) for v in fields[1:9]]
    total = sum(ticks)
    return total - ticks[3] - ticks[4], total


def busy_share(seconds=SAMPLE_SECONDS):
    """The share (0 to 1) of all the CPUs' time spent busy over `seconds`,
    during which this process sleeps; None without /proc/stat."""
    before = _cpu_times()
    if before is None:
        return None
    time.sleep(seconds)
    after = _cpu_times()
    if after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def check():
    """{"load_average", "cores", "busy_share", "loaded", "notice"}: the
    figures (None where unavailable), whether either says the machine is
    loaded, and the line to print then (None when it is not)."""
    cores = os.cpu_count() or 1
    avg, share = load_average(), busy_share()
    loaded = bool((avg is not None and avg >= cores)
                  or (share is not None and share >= BUSY_SHARE))
    return {"load_average": avg, "cores": cores, "busy_share": share, "loaded": loaded,
            "notice": notice(avg, cores, share) if loaded else None}


def notice(avg, cores, share):
    """The header's line for a loaded machine."""
    figures = [f"load average {avg:.2f} on {cores} cores" if avg is not None
               else f"{cores} cores"]
    if share is not None:
        figures.append(f"{100 * share:.0f}% of the CPU time busy over {SAMPLE_SECONDS:g} s "
                       "before the run")
    return f"machine loaded: {', '.join(figures)}: figures unreliable"
