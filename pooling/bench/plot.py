"""``--plot FILE``: the run's measurements as figures, with matplotlib.

Two files, the format following FILE's suffix (.png, .svg or .pdf):

- FILE: speedups.  For each operation measured against PyTorch, the NumPy
  reference or im2col (the main table's rows, the other operations, the
  large inputs, the tiny calls), one bar per baseline: its time over ours,
  on a log axis, from the line at 1x (rightwards where ours is faster),
  each bar labelled with the ratio.
- FILE's stem + ``.sizes`` + suffix (``bench.svg`` -> ``bench.sizes.svg``):
  time per element (ns) across the linear-cost section's input sizes, ours
  and the floor (``x.max()`` on the same input), log-log.  Written only
  when that section ran.

Each figure's title names the command, the machine (CPU model, cores,
threads), the versions and the date, so that a plot carries where it came
from, and the run's load notice when the machine was loaded as it started
("machine loaded: ...: figures unreliable").  A panel without data says so.  matplotlib is imported only here, and
only when ``--plot`` is given; the figures are drawn with the Agg canvas, not
pyplot, so no display is needed and no global state is touched.  SVG keeps
its text as text (``svg.fonttype: none``) and has no date in its metadata,
so two runs' files diff line by line.
"""
from __future__ import annotations

import datetime
import os
import platform
import textwrap
from pathlib import Path

SUFFIXES = (".png", ".svg", ".pdf")
MISSING = '--plot needs matplotlib: pip install "pooling-kernels[plot]"'
# (key, legend label, colour): the baselines, in the order of their bars
BASELINES = (("torch", "PyTorch", "#d62728"), ("reference", "NumPy reference", "#1f77b4"),
             ("im2col", "im2col", "#2ca02c"))


def available():
    """Whether matplotlib imports."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def sizes_path(path):
    """The sibling file of the time-per-element plot."""
    p = Path(path)
    return p.with_name(f"{p.stem}.sizes{p.suffix}")


def cpu_model():
    """The CPU's model name (Linux's /proc/cpuinfo), else what platform says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(result, command, versions, date=None):
    """The lines that say where the figures come from (date: now), and the
    run's load notice when its machine was loaded."""
    date = date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    # wrapped to fit the narrower figure's title
    lines = textwrap.wrap(command, 100, break_on_hyphens=False) + [
        f"{cpu_model()}, {os.cpu_count()} cores, {result['threads']} "
        f"thread{'s' if result['threads'] != 1 else ''}; {versions}; {date}"]
    # the load notice of the run (load.check), when the machine was loaded
    load = result.get("load") or {}
    if load.get("loaded"):
        lines += textwrap.wrap(load["notice"], 100)
    return "\n".join(lines)


def speedups(result):
    """[(label, {baseline: their ms / our ms})] for every measured row that
    has a baseline, in the order the tables print them."""
    out = []
    for r in result["rows"]:
        ours = r["ms"].get("ours")
        ratios = {b: r["ms"][b] / ours for b, _, _ in BASELINES if r["ms"].get(b)}
        if ours and ratios:
            out.append((f"{r['case']} {r['op']}", ratios))
    for section, prefix in (("other_ops", ""), ("large_inputs", "large: "),
                            ("tiny_calls", "tiny: ")):
        for r in result[section]:
            ratios = {b: r[f"{b}_ms"] / r["ours_ms"] for b, _, _ in BASELINES
                      if r.get(f"{b}_ms")}
            if ratios:
                out.append((prefix + r["case"], ratios))
    return out


def _no_data(ax, text):
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10)


def _speedup_figure(Figure, result, title):
    groups = speedups(result)
    # one row of bars per baseline the group has, and a gap
    height = sum(len(g[1]) for g in groups) * 0.16 + len(groups) * 0.12
    fig = Figure(figsize=(10, max(3.0, 1.6 + height)), layout="constrained")
    ax = fig.add_subplot()
    fig.suptitle(f"Speedup of pooling's kernels: their time / ours (median of the run)\n{title}",
                 fontsize=8)
    if not groups:
        _no_data(ax, "no speedups: none of the sections main, other, large, tiny\n"
                     "ran with a baseline (PyTorch, the reference, im2col)")
        return fig
    ticks, labels = [], []
    y = 0.0
    used = set()
    lo, hi = 1.0, 1.0
    for label, ratios in groups:
        n = len(ratios)
        ys = [y + 0.16 * i for i in range(n)]
        for yy, (key, name, colour) in zip(ys, [b for b in BASELINES if b[0] in ratios]):
            v = ratios[key]
            lo, hi = min(lo, v), max(hi, v)
            # from the line at 1x: right when ours is faster, left when slower
            ax.barh(yy, v - 1, left=1, height=0.15, color=colour,
                    label=None if key in used else name)
            used.add(key)
            text = f"{v:.3g}x" if v < 10 else f"{v:.0f}x"
            ax.text(v, yy, f" {text}" if v >= 1 else f"{text} ", va="center",
                    ha="left" if v >= 1 else "right", fontsize=6)
        ticks.append(sum(ys) / n)
        labels.append(label)
        y = ys[-1] + 0.16 + 0.12
    ax.set_xscale("log")
    # room beyond the longest bars for their labels
    ax.set_xlim(min(lo, 1.0) / 3, hi * 3.5)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(ticks, labels, fontsize=6)
    ax.set_ylim(y - 0.12, -0.2)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("speedup (x): baseline's time / ours; right of the line at 1x, ours is faster",
                  fontsize=8)
    ax.grid(axis="x", which="major", linewidth=0.3, alpha=0.5)
    # above the bars, where it hides none of them
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=len(used), fontsize=7, frameon=False)
    return fig


def _sizes_figure(Figure, result, title):
    from matplotlib import ticker

    linear = result["linear_cost"]
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    fig.suptitle(f"Time per element across input sizes\n{title}", fontsize=8)
    if not linear:
        _no_data(ax, "no data: the linear section did not run")
        return fig
    elements = [r["elements"] for r in linear]
    ax.plot(elements, [r["ns_per_element"] for r in linear], "o-", color="#d62728",
            label="ours: max_pool2d 2x2/s2 float32 (forward)")
    ax.plot(elements, [1e6 * r["floor_ms"] / r["elements"] for r in linear], "s--",
            color="grey", label="floor: x.max() on the input (NumPy, one thread)")
    for i, r in enumerate(linear):
        # above and below in turn: the largest sizes are close on a log axis
        ax.annotate("x".join(map(str, r["shape"])), (r["elements"], r["ns_per_element"]),
                    textcoords="offset points", xytext=(0, 7 if i % 2 else -11),
                    ha="center", fontsize=6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    # plain numbers on the ns axis (its range is often within one decade)
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.3g"))
    ax.yaxis.set_minor_formatter(ticker.FuncFormatter(
        lambda v, _: f"{v:.3g}" if f"{v:.0e}"[0] in "25" else ""))
    ax.margins(x=0.08, y=0.15)
    ax.set_xlabel("input elements", fontsize=8)
    ax.set_ylabel("ns per input element", fontsize=8)
    ax.tick_params(which="both", labelsize=7)
    ax.grid(which="both", linewidth=0.3, alpha=0.5)
    ax.legend(fontsize=7)
    return fig


def write(result, path, command, versions, date=None):
    """Draw the figures of result (bench()'s return value, or its JSON)
    into path and its sizes sibling (only when the linear section ran);
    returns the paths written.  command, versions and date (default: now)
    go into the titles."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    title = provenance(result, command, versions, date)
    figures = [(path, _speedup_figure(Figure, result, title))]
    if result["linear_cost"]:
        figures.append((sizes_path(path), _sizes_figure(Figure, result, title)))
    written = []
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "pooling.bench"}):
        for p, fig in figures:
            FigureCanvasAgg(fig)
            meta = {"Date": None} if str(p).endswith(".svg") else None
            fig.savefig(p, metadata=meta, dpi=130)
            written.append(str(p))
    return written
