"""``python -m pooling.dask pyramid IN OUT``: a Zarr array or OME-Zarr image
into a multiscale pyramid written to the Zarr group OUT (arrays "0", "1",
...) as an OME-Zarr image, with ``pooling.dask.pyramid``.

    python -m pooling.dask pyramid IN.zarr OUT.zarr [--component PATH]
        [--factors 2 | --factors 1,2,2] [--levels N]
        [--reduction max|mean|mode|nearest]
        [--axes tczyx] [--scale 2,0.2,0.2] [--units micrometer]
        [--chunks 128 | --chunks 64,256,256] [--shards 1024 | 64,1024,1024]
        [--zarr-format 2|3] [--codec zstd|gzip|blosc-zstd|blosc-lz4|none]
        [--level N] [--no-copy-input] [--overwrite | --resume]
        [--workers N --memory-limit 2GB] [--quiet | --progress]

IN is a Zarr array, a group with ``--component`` naming one, or an OME-Zarr
image group (its first dataset is read, with its axes, scale, units and
translation).

Errors are one line on standard error: exit status 2 for a bad command line,
1 for an input or store that cannot be used (nothing written then, see
``pooling.dask.pyramid``), as for any other failure.

Without ``--workers`` dask's threaded scheduler runs in this process; with it,
a ``distributed.LocalCluster`` of N single-threaded worker processes, each
capped at ``--memory-limit``.

Progress goes to standard error when it is a terminal (not with
``--quiet``), and with ``--progress`` wherever it goes (a batch job's log):
a line per level as it starts, with its shape and the time so far, and the
elapsed time at the end; on a terminal and the threaded scheduler, dask's
progress bar for each level's tasks too.  The levels' summary goes to
standard output.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time


def _ints(text):
    try:
        v = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int or comma-separated ints, got {text!r}")
    return v[0] if len(v) == 1 else v


def _floats(text):
    try:
        v = tuple(float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number or comma-separated numbers, got {text!r}")
    return v[0] if len(v) == 1 else v


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pooling.dask",
                                 description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pyramid", help="a Zarr array into a multiscale pyramid")
    p.add_argument("input", help="a Zarr array, or a group with --component")
    p.add_argument("output", help="the Zarr group to write the levels into")
    p.add_argument("--component", default=None, help="the array's path inside the input")
    p.add_argument("--factors", type=_ints, default=2, help="per axis, comma-separated (2)")
    p.add_argument("--levels", type=int, default=None,
                   help="levels, the input included (default: until a side would drop below 1)")
    p.add_argument("--reduction", choices=("max", "mean", "mode", "nearest"), default="max",
                   help="mode for labels (the most frequent value of each block)")
    p.add_argument("--axes", default=None,
                   help="the axes' letters, time and channel first (tczyx; default yx or zyx)")
    p.add_argument("--scale", type=_floats, default=None,
                   help="level 0's voxel size, one number or one per axis")
    p.add_argument("--units", default=None,
                   help="the space axes' unit (micrometer), or one per axis, comma-separated")
    p.add_argument("--zarr-format", type=int, choices=(2, 3), default=None,
                   help="of a new OUT group: 2 (OME-Zarr 0.4) or 3 (0.5, the default)")
    p.add_argument("--chunks", type=_ints, default=None,
                   help="chunks of every level (default: the input's)")
    p.add_argument("--no-copy-input", dest="copy_input", action="store_false",
                   help="write levels 1, 2, ... only")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a pyramid or OME-Zarr image already in OUTPUT")
    p.add_argument("--resume", action="store_true",
                   help="finish the pyramid an interrupted run of the same arguments left")
    p.add_argument("--workers", type=int, default=0,
                   help="run on a distributed.LocalCluster of this many processes")
    p.add_argument("--memory-limit", default="2GB", help="per worker, with --workers")
    p.add_argument("--shards", type=_ints, default=None,
                   help="Zarr v3 shards of every level, multiples of --chunks (one file each)")
    p.add_argument("--codec", choices=sorted(_CODECS), default=None,
                   help="compression (default: zarr-python's)")
    p.add_argument("--level", dest="clevel", type=int, default=None,
                   help="the codec's compression level")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help="no progress on standard error")
    shown.add_argument("--progress", action="store_true",
                       help="a line per level on standard error, terminal or not")
    a = ap.parse_args(argv)
    try:
        levels = _run(a)
    except (ValueError, TypeError, OSError, KeyError) as e:
        # (argument and data errors, a missing input: one line, not a traceback)
        msg = str(e) if not isinstance(e, KeyError) else f"not found: {e}"
        print(f"{ap.prog}: error: {msg}", file=sys.stderr)
        return 1
    for i, lv in enumerate(levels):
        print(f"{i}: {lv.shape} {lv.dtype} chunks {lv.chunksize}")
    return 0


def _run(a):
    import dask.array as da

    from . import pyramid
    if a.overwrite and a.resume:
        raise ValueError("--overwrite and --resume exclude each other")
    x = _input(a.input, a.component)
    units = a.units
    if units is not None and "," in units:
        units = tuple(u or None for u in units.split(","))
    client = None
    if a.workers:
        from distributed import Client, LocalCluster
        client = Client(LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                                     memory_limit=a.memory_limit, dashboard_address=None))
    tty = sys.stderr.isatty()
    show = a.progress or (tty and not a.quiet)
    try:
        with _progress(show, client is None and tty) as report:
            return pyramid(x, a.factors, a.levels, a.reduction, store=a.output,
                           chunks=a.chunks, axes=a.axes, scale=a.scale, units=units,
                           shards=a.shards, zarr_format=a.zarr_format,
                           zarr_kwargs=_codec(a.codec, a.clevel, a.output, a.zarr_format),
                           copy_input=a.copy_input,
                           overwrite=a.overwrite, resume=a.resume, progress=report)
    finally:
        if client is not None:
            client.close()


# --codec: (zarr v3 codec, numcodecs codec for Zarr v2), built with the level
_CODECS = {
    "zstd": ("ZstdCodec", "Zstd", "level", 3),
    "gzip": ("GzipCodec", "GZip", "level", 5),
    "blosc-zstd": ("BloscCodec", "Blosc", "clevel", 5),
    "blosc-lz4": ("BloscCodec", "Blosc", "clevel", 5),
    "none": (None, None, None, None),
}


def _codec(name, level, output, zarr_format):
    """zarr_kwargs for --codec/--level: the codec for the output's format."""
    if name is None:
        if level is not None:
            raise ValueError("--level needs --codec")
        return None
    v3cls, v2cls, key, default = _CODECS[name]
    if v3cls is None:
        if level is not None:
            raise ValueError("--level needs a codec other than none")
        return {"compressors": None}
    kw = {key: default if level is None else level}
    if name.startswith("blosc"):
        kw["cname"] = name.split("-")[1]
    import zarr
    fmt = zarr_format or _existing_format(output) or (3 if _zarr3() else 2)
    if fmt == 3:
        return {"compressors": [getattr(zarr.codecs, v3cls)(**kw)]}
    import numcodecs
    codec = getattr(numcodecs, v2cls)(**kw)
    return {"compressors": [codec]} if _zarr3() else {"compressor": codec}


def _zarr3():
    from .pyramid import _ZARR_MAJOR
    return _ZARR_MAJOR >= 3


def _existing_format(path):
    """The Zarr format of an existing group at path, else None."""
    import zarr
    try:
        g = zarr.open_group(path, mode="r")
    except Exception:   # (none there yet: any error of any zarr version)
        return None
    return getattr(getattr(g, "metadata", None), "zarr_format", 2)


def _input(path, component):
    """The input: an OME-Zarr image group as a group (pyramid reads its
    metadata), anything else through dask.array.from_zarr."""
    import dask.array as da
    import zarr
    node = zarr.open(path, mode="r") if component is None else None
    if isinstance(node, zarr.Group):
        return node
    return da.from_zarr(path, component=component)


@contextlib.contextmanager
def _progress(show, local):
    """A ``pyramid(progress=...)`` callback printing a line per level on
    stderr (None when not shown), with dask's progress bar around it on a
    local scheduler (a distributed scheduler's tasks are not seen by it)."""
    if not show:
        yield None
        return
    start = time.perf_counter()

    def report(i, level):
        t = time.perf_counter() - start
        if level is None:
            print(f"pyramid: {i} levels written in {t:.1f} s", file=sys.stderr, flush=True)
        else:
            print(f"pyramid: level {i} {level.shape} ({level.npartitions} blocks), "
                  f"{t:.1f} s", file=sys.stderr, flush=True)

    if local:
        from dask.diagnostics import ProgressBar
        with ProgressBar(minimum=0.5, out=sys.stderr):
            yield report
    else:
        yield report


if __name__ == "__main__":
    sys.exit(main())
