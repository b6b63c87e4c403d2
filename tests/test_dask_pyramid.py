"""pooling.dask.pyramid: each level is the in-memory function applied to the
previous level, bit for bit (any chunking, numpy or dask input, factors per
axis, shapes the factors do not divide), and a Zarr store round-trips."""
import io
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from strategies import subprocess_env

da = pytest.importorskip("dask.array")
pdask = pytest.importorskip("pooling.dask")


def _levels_in_memory(x, factors, reduction, count=None):
    """The pyramid from the in-memory functions, level by level."""
    nd = x.ndim
    f = (factors,) * nd if isinstance(factors, int) else tuple(factors)
    out = [x]
    while True:
        prev = out[-1]
        if count is None and any(fi > 1 and n < fi for n, fi in zip(prev.shape, f)):
            break
        if count is not None and len(out) == count:
            break
        k = tuple(min(fi, n) for fi, n in zip(f, prev.shape))
        if reduction == "max":
            pool = pooling.max_pool3d if nd == 3 else pooling.max_pool2d
            y = pool(prev[None, None], k, k, ceil_mode=True)[0, 0]
        else:
            avg = pooling.avg_pool3d if nd == 3 else pooling.avg_pool2d
            y = avg(prev[None, None].astype(np.float64), k, k, ceil_mode=True,
                    count_include_pad=False)[0, 0]   # (float64 sums, one rounding)
            y = y.astype(prev.dtype) if prev.dtype.kind == "f" else np.rint(y).astype(prev.dtype)
        out.append(y)
    return out


def _check(levels, expected):
    assert len(levels) == len(expected)
    for got, want in zip(levels, expected):
        assert isinstance(got, da.Array)
        v = got.compute()
        assert v.dtype == want.dtype and v.shape == want.shape
        np.testing.assert_array_equal(v, want)
        if v.dtype.kind == "f":   # bit for bit, signed zeros and NaN payloads included
            assert v.tobytes() == want.tobytes()


@st.composite
def _volumes(draw):
    nd = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.lists(st.integers(1, 23), min_size=nd, max_size=nd)))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int16, np.uint8, np.int64]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    if np.dtype(dtype).kind == "f":
        x = (rng.standard_normal(shape) * 10).astype(dtype)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(max(info.min, -1000), min(info.max, 1000), shape, dtype=dtype,
                         endpoint=True)
    chunks = tuple(draw(st.integers(1, max(n, 1))) for n in shape)
    f = draw(st.one_of(st.integers(2, 4),
                       st.lists(st.integers(1, 3), min_size=nd, max_size=nd).filter(
                           lambda t: max(t) > 1).map(tuple)))
    return x, chunks, f


@given(_volumes(), st.sampled_from(["max", "mean"]), st.booleans())
def test_levels_equal_in_memory(case, reduction, as_dask):
    """Every level equals the in-memory function on the previous level, for
    random shapes (most not divisible), chunkings, factors and dtypes."""
    x, chunks, f = case
    image = da.from_array(x, chunks=chunks) if as_dask else x
    _check(pdask.pyramid(image, f, reduction=reduction), _levels_in_memory(x, f, reduction))


def test_max_keeps_labels():
    """Integer labels (int64 ids beyond float64's exact range included) stay
    exact under max: every output value is one of its window's labels."""
    rng = np.random.default_rng(1)
    ids = np.array([0, 7, 2 ** 62 + 1, 2 ** 62 + 3, -5], np.int64)
    x = ids[rng.integers(0, len(ids), (17, 30, 21))]
    levels = pdask.pyramid(da.from_array(x, chunks=(5, 8, 9)), 2)
    _check(levels, _levels_in_memory(x, 2, "max"))
    assert set(np.unique(levels[1].compute())) <= set(ids)
    # the first level by hand: the largest label of each 2x2x2 block
    y = levels[1].compute()
    assert y[3, 4, 5] == x[6:8, 8:10, 10:12].max() and y[8, 14, 10] == x[16:, 28:, 20:].max()


def test_bool_max():
    x = np.random.default_rng(2).random((9, 14)) > 0.8
    levels = pdask.pyramid(x, 3)
    assert [lv.dtype for lv in levels] == [np.bool_] * 3
    want = _levels_in_memory(x.astype(np.uint8), 3, "max")
    for got, w in zip(levels, want):
        np.testing.assert_array_equal(got.compute(), w.astype(bool))


def test_mean_edges_and_dtypes():
    """The mean covers the real elements of a partial window only; integer
    inputs are rounded back (half to even) to their dtype; float16 stays."""
    x = np.arange(5 * 3, dtype=np.float64).reshape(5, 3)
    lv = pdask.pyramid(x, 2, levels=2, reduction="mean")[1].compute()
    np.testing.assert_array_equal(lv, [[2.0, 3.5], [8.0, 9.5], [12.5, 14.0]])
    u = np.array([[0, 1], [2, 2], [1, 2]], np.uint8)   # means 1.25, 1.5
    lv = pdask.pyramid(u, 2, levels=2, reduction="mean")[1].compute()
    assert lv.dtype == np.uint8 and lv.tolist() == [[1], [2]]
    h = np.random.default_rng(3).standard_normal((11, 6, 7)).astype(np.float16)
    _check(pdask.pyramid(h, (2, 3, 2), reduction="mean"), _levels_in_memory(h, (2, 3, 2), "mean"))


def test_max_of_negative_data_at_the_edges():
    """No constant padding enters an edge window (block_reduce's cval=0
    would give 0 here)."""
    x = -np.arange(1, 1 + 5 * 5 * 5, dtype=np.float32).reshape(5, 5, 5)
    lv = pdask.pyramid(x, 2)
    assert lv[1].shape == (3, 3, 3) and lv[1].compute()[2, 2, 2] == x[4, 4, 4]
    assert (lv[-1].compute() < 0).all()


def test_level_count_and_shapes():
    x = np.zeros((10, 100, 37), np.uint16)
    # until a reduced side would drop below one
    assert [lv.shape for lv in pdask.pyramid(x, 2)] == [
        (10, 100, 37), (5, 50, 19), (3, 25, 10), (2, 13, 5), (1, 7, 3)]
    assert [lv.shape for lv in pdask.pyramid(x, (1, 2, 2))] == [
        (10, 100, 37), (10, 50, 19), (10, 25, 10), (10, 13, 5), (10, 7, 3), (10, 4, 2),
        (10, 2, 1)]
    # levels asked for: a side shorter than its factor ends at one
    shapes = [lv.shape for lv in pdask.pyramid(x, 2, levels=8)]
    assert shapes[4:] == [(1, 7, 3), (1, 4, 2), (1, 2, 1), (1, 1, 1)]
    assert [lv.shape for lv in pdask.pyramid(x, 2, levels=1)] == [x.shape]
    y = np.random.default_rng(4).integers(0, 50, (10, 100, 37)).astype(np.int32)
    _check(pdask.pyramid(y, 2, levels=8, reduction="mean"),
           _levels_in_memory(y, 2, "mean", count=8))


def test_chunks_of_the_levels():
    x = da.zeros((64, 64, 64), np.float32, chunks=(16, 32, 64))
    levels = pdask.pyramid(x, 2)
    assert all(lv.chunksize == tuple(min(c, n) for c, n in zip((16, 32, 64), lv.shape))
               for lv in levels)
    levels = pdask.pyramid(x, 2, chunks=8)
    assert levels[0].chunksize == (8, 8, 8) and levels[3].chunksize == (8, 8, 8)
    assert pdask.pyramid(np.zeros((40, 40)), 2, chunks=(10, 20))[0].chunksize == (10, 20)


def test_zarr_round_trip(tmp_path):
    """The levels written to a Zarr group read back equal, with the chunks
    asked for, and the group's multiscales metadata names them."""
    zarr = pytest.importorskip("zarr")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((21, 40, 33)).astype(np.float32)
    expected = _levels_in_memory(x, (1, 2, 2), "mean")
    path = str(tmp_path / "p.zarr")
    levels = pdask.pyramid(da.from_array(x, chunks=(7, 16, 16)), (1, 2, 2), reduction="mean",
                           store=path)
    _check(levels, expected)
    g = zarr.open_group(path, mode="r")
    assert sorted(g.array_keys(), key=int) == [str(i) for i in range(len(expected))]
    for i, want in enumerate(expected):
        np.testing.assert_array_equal(g[str(i)][...], want)
        assert g[str(i)].chunks == tuple(min(c, n) for c, n in zip((7, 16, 16), want.shape))
    ms = g.attrs["ome"]["multiscales"][0]
    assert [d["path"] for d in ms["datasets"]] == [str(i) for i in range(len(expected))]
    assert ms["datasets"][2]["coordinateTransformations"][0]["scale"] == [1.0, 4.0, 4.0]
    assert [a["name"] for a in ms["axes"]] == ["z", "y", "x"] and ms["type"] == "mean"
    # a second run refuses to overwrite, unless asked; copy_input=False
    # leaves "0" out and returns the input as level 0
    with pytest.raises(ValueError, match=r"pyramid: the store already holds '0', '1'"):
        pdask.pyramid(x, (1, 2, 2), store=path)
    levels = pdask.pyramid(x, 2, store=path, copy_input=False, overwrite=True,
                           zarr_kwargs={"compressors": None})
    _check(levels, _levels_in_memory(x, 2, "max"))
    assert [d["path"] for d in zarr.open_group(path).attrs["ome"]["multiscales"][0]
            ["datasets"]] == [str(i) for i in range(1, len(levels))]
    # a zarr group as the store; a Zarr array as the input
    sub = zarr.open_group(str(tmp_path / "q.zarr")).create_group("labels")
    ids = rng.integers(0, 9, (12, 10)).astype(np.uint32)
    pdask.pyramid(ids, 3, store=sub)
    back = zarr.open_group(str(tmp_path / "q.zarr"))["labels"]
    _check(pdask.pyramid(back["0"], 3), _levels_in_memory(ids, 3, "max"))


def test_cli(tmp_path):
    """python -m pooling.dask pyramid IN OUT writes the pyramid."""
    zarr = pytest.importorskip("zarr")
    x = np.random.default_rng(6).integers(-9, 9, (20, 30, 17)).astype(np.int16)
    z = zarr.create_array(str(tmp_path / "in.zarr"), shape=x.shape, chunks=(8, 8, 8),
                          dtype=x.dtype)
    z[...] = x
    proc = subprocess.run([sys.executable, "-m", "pooling.dask", "pyramid",
                           str(tmp_path / "in.zarr"), str(tmp_path / "out.zarr"), "--factors",
                           "1,2,2", "--reduction", "mean", "--levels", "3"],
                          env=subprocess_env(), capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "pyramid:" not in proc.stderr and "Completed" not in proc.stderr  # not a tty
    assert proc.stdout.splitlines() == ["0: (20, 30, 17) int16 chunks (8, 8, 8)",
                                        "1: (20, 15, 9) int16 chunks (8, 8, 8)",
                                        "2: (20, 8, 5) int16 chunks (8, 8, 5)"]
    g = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")
    for got, want in zip((g[str(i)][...] for i in range(3)),
                         _levels_in_memory(x, (1, 2, 2), "mean", count=3)):
        np.testing.assert_array_equal(got, want)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_cli_progress(tmp_path, monkeypatch, capsys, quiet):
    """On a terminal the CLI prints a line per level on stderr (and dask's
    progress bar); --quiet silences it; stdout is the same either way."""
    zarr = pytest.importorskip("zarr")
    from pooling.dask.__main__ import main
    x = np.arange(12 * 10, dtype=np.float32).reshape(12, 10)
    z = zarr.create_array(str(tmp_path / "in.zarr"), shape=x.shape, chunks=(4, 4),
                          dtype=x.dtype)
    z[...] = x
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["pyramid", str(tmp_path / "in.zarr"), str(tmp_path / "out.zarr"), "--levels",
                 "3"] + (["--quiet"] if quiet else [])) == 0
    assert capsys.readouterr().out.splitlines() == ["0: (12, 10) float32 chunks (4, 4)",
                                                    "1: (6, 5) float32 chunks (4, 4)",
                                                    "2: (3, 3) float32 chunks (3, 3)"]
    lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("pyramid:")]
    if quiet:
        assert err.getvalue() == ""
    else:
        assert [ln.rsplit(", ", 1)[0] for ln in lines[:-1]] == [
            "pyramid: level 0 (12, 10) (9 blocks)", "pyramid: level 1 (6, 5) (4 blocks)",
            "pyramid: level 2 (3, 3) (1 blocks)"]
        assert re.fullmatch(r"pyramid: 3 levels written in \d+\.\d s", lines[-1]), lines


def test_progress_callback(tmp_path):
    """progress(i, level) before each written level, progress(n, None) at the end;
    never without a store."""
    pytest.importorskip("zarr")
    seen = []
    x = np.zeros((9, 8), np.float32)
    levels = pdask.pyramid(x, 2, store=str(tmp_path / "p.zarr"), copy_input=False,
                           progress=lambda i, lv: seen.append((i, None if lv is None
                                                               else lv.shape)))
    assert seen == [(1, (5, 4)), (2, (3, 2)), (3, (2, 1)), (4, None)] == \
        [(i, lv.shape) for i, lv in enumerate(levels) if i] + [(len(levels), None)]
    seen.clear()
    pdask.pyramid(x, 2, progress=lambda i, lv: seen.append(i))
    assert seen == []


@pytest.mark.parametrize("kw, err, match", [
    (dict(image=np.zeros(5)), ValueError,
     r"pyramid: image must have 2 to 5 dimensions \(2 or 3 space axes after optional time and "
     r"channel axes\), but got shape \(5,\)"),
    (dict(image=np.zeros((1, 2, 3, 4, 5, 6))), ValueError, r"but got shape \(1, 2, 3, 4, 5, 6\)"),
    (dict(image=np.zeros((1, 2, 3, 4))), ValueError,
     r"pyramid: a 4-D image needs axes naming its dimensions \(such as 'czyx'\)"),
    (dict(axes="zyxc"), ValueError, r"pyramid: axes 'zyxc' names 4 axes but the image has 3 "
                                   r"dimensions"),
    (dict(axes="yzy"), ValueError, r"pyramid: axes must be distinct, but got 'yzy'"),
    (dict(image=np.zeros((2, 3, 4, 5)), axes="zcyx"), ValueError,
     r"pyramid: axes must be 2 or 3 space axes .* in that order \(OME-Zarr\), but got 'zcyx'"),
    (dict(image=np.zeros((2, 3, 4, 5)), axes="tcyx", factors=(2, 1, 2, 2)), ValueError,
     r"pyramid: factors must be 1 on the time and channel axes \(t\), but got \(2, 1, 2, 2\)"),
    (dict(scale=(1, 0, 1)), ValueError, r"pyramid: scale must be a number or 3 positive numbers"),
    (dict(scale="1"), ValueError, r"pyramid: scale must be a number or 3 positive numbers"),
    (dict(translation=(0, float("nan"), 0)), ValueError,
     r"pyramid: translation must be a number or 3 finite numbers"),
    (dict(units=(None, 3, None)), ValueError, r"pyramid: units must be a string"),
    (dict(image=np.zeros((2, 4, 5)), axes="cyx", units=("m", "m", "m")), ValueError,
     r"pyramid: the channel axis has no unit"),
    (dict(zarr_format=4, store={}), ValueError,
     r"pyramid: zarr_format must be None, 2 or 3, but got 4"),
    (dict(factors=1), ValueError, r"pyramid: factors must have at least one factor > 1, but "
                                  r"got 1"),
    (dict(factors=(2, 2)), ValueError, r"pyramid: factors must be an int >= 1 or 3 of them "
                                       r"\(one per axis\), but got \(2, 2\)"),
    (dict(factors=(2, 0, 2)), ValueError, r"factors must be an int >= 1"),
    (dict(factors=2.0), ValueError, r"factors must be an int >= 1"),
    (dict(reduction="min"), ValueError, r"pyramid: reduction must be one of 'max', 'mean', "
                                        r"'mode', 'nearest', but got 'min'"),
    (dict(reduction="mode"), TypeError, r"pyramid: image has unsupported dtype float32 for "
                                        r"reduction 'mode'; expected an integer or bool dtype"),
    (dict(levels=0), ValueError, r"pyramid: levels must be None or an int >= 1, but got 0"),
    (dict(chunks=(4, 4)), ValueError, r"pyramid: chunks must be an int >= 1 or 3 of them"),
    (dict(image=np.zeros((4, 4), bool), reduction="mean"), TypeError,
     r"pyramid: image has unsupported dtype bool for reduction 'mean'; expected an integer, "
     r"float16, float32 or float64 dtype$"),
    (dict(image=np.zeros((4, 4), np.complex64)), TypeError,
     r"pyramid: image has unsupported dtype complex64 for reduction 'max'; expected .* \(or "
     r"bool\)"),
])
def test_bad_arguments(kw, err, match):
    args = dict(image=np.zeros((4, 5, 6), np.float32))
    args.update(kw)
    with pytest.raises(err, match=match):
        pdask.pyramid(**args)


def test_unknown_chunks():
    x = da.from_array(np.arange(64.0).reshape(8, 8), chunks=4)
    x = x[x[:, 0] > 10]
    with pytest.raises(ValueError, match=r"pyramid: image has unknown chunk sizes"):
        pdask.pyramid(x)


# ------------------------------------------- never destroy the input (#27)

def _pyramid_store(tmp_path, name="p.zarr", shape=(40, 36)):
    zarr = pytest.importorskip("zarr")
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    path = str(tmp_path / name)
    pdask.pyramid(x, 2, store=path)
    return zarr, x, path


def _intact(zarr, path, x, component="0"):
    np.testing.assert_array_equal(zarr.open_group(path, mode="r")[component][...], x)


@pytest.mark.parametrize("form", ["path", "group", "store", "zarr_array"])
def test_rebuilding_in_place_is_refused_before_writing(tmp_path, form):
    """A store whose levels would overwrite the input's array (the input read
    from the group written to) is refused before anything is written,
    however the input and store are given; the data stays."""
    zarr, x, path = _pyramid_store(tmp_path)
    before = {k: zarr.open_group(path)[k][...] for k in zarr.open_group(path).array_keys()}
    g = zarr.open_group(path)
    image = g["0"] if form == "zarr_array" else da.from_zarr(path, component="0")
    store = {"path": path, "group": g, "store": g.store, "zarr_array": g}[form]
    for kw in (dict(overwrite=True), dict(), dict(overwrite=True, levels=2)):
        with pytest.raises(ValueError, match=r"pyramid: the store's array '0' is the input "
                                             r".*would destroy the input"):
            pdask.pyramid(image, 2, store=store, **kw)
    after = zarr.open_group(path, mode="r")
    assert sorted(after.array_keys()) == sorted(before)
    for k, v in before.items():
        np.testing.assert_array_equal(after[k][...], v)


def test_output_inside_or_equal_to_the_input_is_refused(tmp_path):
    zarr, x, path = _pyramid_store(tmp_path)
    image = da.from_zarr(path, component="0")
    with pytest.raises(ValueError, match=r"pyramid: the store lies inside the input array"):
        pdask.pyramid(image, 2, store=path + "/0/sub")
    with pytest.raises(ValueError, match=r"pyramid: the store is the input array itself"):
        pdask.pyramid(da.from_zarr(path + "/0"), 2, store=path + "/0")
    _intact(zarr, path, x)
    assert not (tmp_path / "p.zarr" / "0" / "sub").exists()


def test_rebuilding_from_level_0_in_place_keeps_it(tmp_path):
    """copy_input=False with the group's own "0" as input: levels 1.. are
    rebuilt (overwrite), "0" read and kept, named in the metadata; deeper
    stale levels deleted."""
    zarr, x, path = _pyramid_store(tmp_path)
    levels = pdask.pyramid(da.from_zarr(path, component="0"), 2, reduction="mean",
                           store=path, copy_input=False, overwrite=True, levels=3)
    _check(levels, _levels_in_memory(x, 2, "mean", count=3))
    g = zarr.open_group(path, mode="r")
    assert sorted(g.array_keys()) == ["0", "1", "2"]
    _intact(zarr, path, x)
    ms = g.attrs["ome"]["multiscales"][0]
    assert [d["path"] for d in ms["datasets"]] == ["0", "1", "2"] and ms["type"] == "mean"
    assert "pooling" not in g.attrs


def test_overwrite_leaves_no_stale_levels_and_foreign_images_need_it(tmp_path):
    zarr, x, path = _pyramid_store(tmp_path)
    assert len(list(zarr.open_group(path).array_keys())) == 7   # (40x36 to 1x1)
    pdask.pyramid(x, 2, store=path, overwrite=True, levels=2)
    g = zarr.open_group(path, mode="r")
    assert sorted(g.array_keys()) == ["0", "1"]
    assert [d["path"] for d in g.attrs["ome"]["multiscales"][0]["datasets"]] == ["0", "1"]
    # an OME-Zarr image group whose arrays have other names
    other = zarr.open_group(str(tmp_path / "img.zarr"))
    other.create_array("s0", shape=(4, 4), dtype="f4")
    other.attrs["ome"] = {"version": "0.5", "multiscales": [{"datasets": [{"path": "s0"}]}]}
    with pytest.raises(ValueError, match=r"pyramid: the store is already an OME-Zarr image"):
        pdask.pyramid(x, 2, store=str(tmp_path / "img.zarr"))
    assert zarr.open_group(str(tmp_path / "img.zarr")).attrs["ome"]["multiscales"][0][
        "datasets"] == [{"path": "s0"}]


class _Killed(Exception):
    pass


def test_interrupted_run_reads_as_no_pyramid_and_resumes(tmp_path):
    """Killed while level 3 is written: the group has no multiscales metadata
    (no pyramid with partial levels), its "pooling" record names the
    complete levels; a rerun says so; resume=True finishes it, reusing them,
    and equals an uninterrupted run; other arguments cannot resume it."""
    zarr = pytest.importorskip("zarr")
    x = np.random.default_rng(8).integers(0, 1000, (37, 50)).astype(np.int32)
    path = str(tmp_path / "p.zarr")
    pdask.pyramid(x + 1, 2, store=path)        # an older, complete pyramid

    def stop(i, level):
        if i == 3:
            raise _Killed
    with pytest.raises(_Killed):
        pdask.pyramid(x, 2, reduction="mean", store=path, overwrite=True, progress=stop)
    g = zarr.open_group(path, mode="r")
    assert "ome" not in g.attrs and "multiscales" not in g.attrs
    record = g.attrs["pooling"]["pyramid"]
    assert record["state"] == "incomplete" and record["complete"] == ["0", "1", "2"]
    with pytest.raises(ValueError, match=r"pyramid: the store holds an incomplete pyramid "
                                         r"\(an earlier run stopped with levels \['0', '1', "
                                         r"'2'\] of 7 complete\); pass resume=True"):
        pdask.pyramid(x, 2, reduction="mean", store=path)
    with pytest.raises(ValueError, match=r"pyramid: cannot resume: .*'reduction': 'mean'"):
        pdask.pyramid(x, 2, reduction="max", store=path, resume=True)
    seen = []
    levels = pdask.pyramid(x, 2, reduction="mean", store=path, resume=True,
                           progress=lambda i, lv: seen.append(i))
    assert seen == [3, 4, 5, 6, 7]
    _check(levels, _levels_in_memory(x, 2, "mean"))
    g = zarr.open_group(path, mode="r")
    assert "pooling" not in g.attrs
    assert len(g.attrs["ome"]["multiscales"][0]["datasets"]) == 7
    with pytest.raises(ValueError, match=r"resume=True but the store holds no incomplete"):
        pdask.pyramid(x, 2, reduction="mean", store=path, resume=True)


def test_integer_means_at_the_ends_of_the_range_do_not_wrap():
    for dtype in (np.int64, np.uint64, np.int32, np.int8, np.uint8):
        info = np.iinfo(dtype)
        for v in (info.max, info.min):
            x = np.full((5, 4), v, dtype)
            assert all((lv.compute() == v).all()
                       for lv in pdask.pyramid(x, 2, reduction="mean"))


def test_v3_arrays_name_their_dimensions(tmp_path):
    zarr = pytest.importorskip("zarr")
    if int(zarr.__version__.split(".")[0]) < 3:
        pytest.skip("zarr-python 2 writes Zarr v2 (no dimension_names)")
    pdask.pyramid(np.zeros((6, 8, 8), np.float32), 2, store=str(tmp_path / "p.zarr"))
    g = zarr.open_group(str(tmp_path / "p.zarr"), mode="r")
    assert all(g[k].metadata.dimension_names == ("z", "y", "x") for k in g.array_keys())


def test_cli_errors_are_one_line(tmp_path):
    """A refused or missing input: one line on stderr, exit 1, nothing
    written; a bad command line: exit 2."""
    zarr, x, path = _pyramid_store(tmp_path)
    base = [sys.executable, "-m", "pooling.dask", "pyramid"]
    for args, code, match in [
        ([path, path, "--component", "0", "--overwrite"], 1,
         r"python -m pooling\.dask: error: pyramid: the store's array '0' is the input"),
        ([str(tmp_path / "none.zarr"), str(tmp_path / "o.zarr")], 1,
         r"python -m pooling\.dask: error: "),
        ([path, str(tmp_path / "o.zarr"), "--component", "0", "--factors", "x"], 2, r"usage:"),
        ([path, str(tmp_path / "o.zarr"), "--component", "0", "--overwrite", "--resume"], 1,
         r"error: --overwrite and --resume exclude each other"),
    ]:
        proc = subprocess.run(base + args, env=subprocess_env(), capture_output=True, text=True,
                              cwd=tmp_path)
        assert proc.returncode == code, proc.stderr
        assert re.search(match, proc.stderr), proc.stderr
        assert "Traceback" not in proc.stderr
        if code == 1:
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    _intact(zarr, path, x)
    assert not (tmp_path / "o.zarr").exists()


# ------------------------------ axes, physical metadata, OME-Zarr (#27)

def _validate(path):
    """ome-zarr-models' validation of an OME-Zarr image (skipped without it)."""
    zarr = pytest.importorskip("zarr")
    models = pytest.importorskip("ome_zarr_models")
    model = models.open_ome_zarr(zarr.open_group(path, mode="r"))
    return model


@pytest.mark.parametrize("axes, shape, factors", [
    ("tczyx", (2, 3, 9, 10, 7), 2), ("cyx", (3, 11, 9), 2), ("tyx", (2, 8, 9), (1, 2, 3)),
    ("czyx", (2, 5, 6, 7), (1, 1, 2, 2)), ("tcyx", (1, 2, 5, 4), 3)])
@pytest.mark.parametrize("reduction", ["max", "mean"])
def test_time_and_channel_axes_are_carried(axes, shape, factors, reduction):
    """Time and channel axes keep their size (factor 1); each level is the
    in-memory pooling of every (t, c) plane of the previous one."""
    x = np.random.default_rng(9).standard_normal(shape).astype(np.float32)
    chunks = tuple(max(1, n // 2) for n in shape)
    levels = pdask.pyramid(da.from_array(x, chunks=chunks), factors, reduction=reduction,
                           axes=axes)
    lead = sum(a in "tc" for a in axes)
    nsp = len(axes) - lead
    f = (factors,) * nsp if isinstance(factors, int) else factors[lead:]
    prev = x
    for lv in levels[1:]:
        k = tuple(min(fi, n) for fi, n in zip(f, prev.shape[lead:]))
        flat = prev.reshape((-1, 1) + prev.shape[lead:]).astype(np.float64)
        if reduction == "max":
            pool = pooling.max_pool3d if nsp == 3 else pooling.max_pool2d
            want = pool(prev.reshape((-1, 1) + prev.shape[lead:]), k, k, ceil_mode=True)
        else:
            avg = pooling.avg_pool3d if nsp == 3 else pooling.avg_pool2d
            want = avg(flat, k, k, ceil_mode=True, count_include_pad=False).astype(np.float32)
        want = want.reshape(prev.shape[:lead] + want.shape[2:])
        got = lv.compute()
        assert got.shape[:lead] == x.shape[:lead]
        assert got.tobytes() == want.tobytes()
        prev = want


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_ome_zarr_metadata_is_valid_with_units_scale_and_translation(tmp_path, zarr_format):
    """OME-Zarr 0.5 (Zarr v3) or 0.4 (Zarr v2): axes with types and units,
    each level's scale (level 0's times the factors) and translation (the
    centre of a block of level-0 voxels); ome-zarr-models validates it and
    ome-zarr-py's Reader reads the levels and transforms back."""
    zarr = pytest.importorskip("zarr")
    if zarr_format == 3 and int(zarr.__version__.split(".")[0]) < 3:
        pytest.skip("Zarr v3 needs zarr-python 3")
    x = np.random.default_rng(10).integers(0, 99, (2, 8, 40, 44)).astype(np.uint16)
    path = str(tmp_path / "img.zarr")
    pdask.pyramid(x, (1, 1, 2, 2), reduction="mean", store=path, axes="czyx",
                  scale=(1, 2.0, 0.2, 0.25), units="micrometer", translation=(0, 10, 0, 0),
                  zarr_format=zarr_format)
    g = zarr.open_group(path, mode="r")
    if zarr_format == 3:
        ms = g.attrs["ome"]["multiscales"][0]
        assert g.attrs["ome"]["version"] == "0.5"
    else:
        ms = g.attrs["multiscales"][0]
        assert ms["version"] == "0.4"
        assert g["1"].metadata.zarr_format == 2
    assert ms["axes"] == [{"name": "c", "type": "channel"},
                          {"name": "z", "type": "space", "unit": "micrometer"},
                          {"name": "y", "type": "space", "unit": "micrometer"},
                          {"name": "x", "type": "space", "unit": "micrometer"}]
    ds = ms["datasets"]
    assert [d["path"] for d in ds] == [str(i) for i in range(len(ds))] and len(ds) == 7
    assert ds[0]["coordinateTransformations"] == [
        {"type": "scale", "scale": [1.0, 2.0, 0.2, 0.25]},
        {"type": "translation", "translation": [0.0, 10.0, 0.0, 0.0]}]
    assert ds[2]["coordinateTransformations"] == [
        {"type": "scale", "scale": [1.0, 2.0, 0.8, 1.0]},
        {"type": "translation", "translation": [0.0, 10.0, 1.5 * 0.2, 1.5 * 0.25]}]
    _validate(path)
    reader = pytest.importorskip("ome_zarr.reader")
    io = pytest.importorskip("ome_zarr.io")
    node = next(iter(reader.Reader(io.parse_url(path))()))
    assert len(node.data) == 7
    assert [tuple(d.shape) for d in node.data][:2] == [(2, 8, 40, 44), (2, 8, 20, 22)]
    np.testing.assert_array_equal(np.asarray(node.data[0]), x)
    transforms = node.metadata["coordinateTransformations"]
    assert transforms[1][0]["scale"] == [1.0, 2.0, 0.4, 0.5]


def test_an_ome_zarr_image_as_input_keeps_its_space(tmp_path):
    """An OME-Zarr image group as the input: its first dataset is pooled, its
    axes, scale, units and translation carried over (arguments override);
    from the CLI too, without --component."""
    zarr = pytest.importorskip("zarr")
    x = np.random.default_rng(11).standard_normal((6, 20, 24)).astype(np.float32)
    src = str(tmp_path / "src.zarr")
    pdask.pyramid(x, (1, 2, 2), store=src, levels=2, axes="zyx", scale=(2.0, 0.2, 0.2),
                  units="micrometer", translation=(1.0, 0.0, 0.0))
    out = str(tmp_path / "out.zarr")
    levels = pdask.pyramid(zarr.open_group(src, mode="r"), (1, 2, 2), store=out, levels=3)
    np.testing.assert_array_equal(levels[0].compute(), x)
    ms = zarr.open_group(out, mode="r").attrs["ome"]["multiscales"][0]
    assert [a.get("unit") for a in ms["axes"]] == ["micrometer"] * 3
    assert ms["datasets"][1]["coordinateTransformations"] == [
        {"type": "scale", "scale": [2.0, 0.4, 0.4]},
        {"type": "translation", "translation": [1.0, 0.1, 0.1]}]
    _validate(out)
    proc = subprocess.run([sys.executable, "-m", "pooling.dask", "pyramid", src,
                           str(tmp_path / "cli.zarr"), "--factors", "1,2,2", "--levels", "2",
                           "--units", "nanometer"],
                          env=subprocess_env(), capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ms = zarr.open_group(str(tmp_path / "cli.zarr"), mode="r").attrs["ome"]["multiscales"][0]
    assert [a.get("unit") for a in ms["axes"]] == ["nanometer"] * 3
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == [2.0, 0.2, 0.2]
    # an image rebuilt into itself from its own level 0 is refused
    with pytest.raises(ValueError, match=r"the store's array '0' is the input"):
        pdask.pyramid(zarr.open_group(src), 2, store=src, overwrite=True)


def test_cli_axes_scale_units_and_zarr_format(tmp_path):
    zarr = pytest.importorskip("zarr")
    x = np.zeros((2, 3, 16, 16), np.uint8)
    z = zarr.create_array(str(tmp_path / "in.zarr"), shape=x.shape, chunks=(1, 1, 8, 8),
                          dtype=x.dtype)
    z[...] = x
    proc = subprocess.run([sys.executable, "-m", "pooling.dask", "pyramid",
                           str(tmp_path / "in.zarr"), str(tmp_path / "o.zarr"), "--axes", "tcyx",
                           "--scale", "60,1,0.5,0.5", "--units", "second,,micrometer,micrometer",
                           "--zarr-format", "2", "--levels", "2"],
                          env=subprocess_env(), capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ms = zarr.open_group(str(tmp_path / "o.zarr"), mode="r").attrs["multiscales"][0]
    assert [a.get("unit") for a in ms["axes"]] == ["second", None, "micrometer", "micrometer"]
    assert ms["datasets"][1]["coordinateTransformations"][0]["scale"] == [60.0, 1.0, 1.0, 1.0]
    _validate(str(tmp_path / "o.zarr"))


# --------------------------------------------------- labels: mode, nearest

@given(_volumes(), st.sampled_from(["mode", "nearest"]))
def test_mode_and_nearest_levels(case, reduction):
    """Each mode level is the block mode (ties: the smallest) of the previous
    one, computed whole by the NumPy twin; nearest takes each block's first
    element; any chunking (mode cuts chunks at multiples of the factor)."""
    from pooling._core.numpy_mode import block_mode3d
    x, chunks, f = case
    if reduction == "mode" and x.dtype.kind == "f":
        x = (x * 3).astype(np.int32) % 5   # few labels: ties
    levels = pdask.pyramid(da.from_array(x, chunks=chunks), f, reduction=reduction)
    nd = x.ndim
    ff = (f,) * nd if isinstance(f, int) else f
    prev = x
    for lv in levels[1:]:
        k = tuple(min(fi, n) for fi, n in zip(ff, prev.shape))
        if reduction == "nearest":
            want = prev[tuple(slice(None, None, ki) for ki in k)]
        else:
            k3 = (1,) * (3 - nd) + k
            p5 = prev.reshape((1, 1) + (1,) * (3 - nd) + prev.shape)
            want = block_mode3d(p5, k3, tuple(-(-n // ki) for n, ki in zip(p5.shape[2:], k3)))
            want = want.reshape(want.shape[2 + 3 - nd:])
        got = lv.compute()
        assert got.dtype == x.dtype and np.array_equal(got, want)
        prev = want


def test_mode_keeps_object_sizes_better_than_max():
    """Objects (ids 1-400, squares of 4 to 9 pixels a side) on background 0:
    at level 1 mode keeps the background's share and treats low and high
    ids alike; max shrinks the background (every window that touches an
    object takes its id).  (Mode's ties go to the smallest value: between an
    object and the background, the background.)"""
    rng = np.random.default_rng(12)
    lab = np.zeros((400, 400), np.int64)
    for i in range(1, 401):
        s = int(rng.integers(4, 10))
        r, c = rng.integers(0, 400 - s, 2)
        if not lab[max(r - 1, 0):r + s + 1, max(c - 1, 0):c + s + 1].any():
            lab[r:r + s, c:c + s] = i
    share = np.bincount(lab.ravel(), minlength=401) / lab.size
    for reduction in ("mode", "max"):
        lv = pdask.pyramid(lab, 2, reduction=reduction, levels=2)[1].compute()
        got = np.bincount(lv.ravel(), minlength=401) / lv.size
        background = got[0] / share[0]
        low, high = got[1:101].sum() / share[1:101].sum(), got[301:].sum() / share[301:].sum()
        if reduction == "mode":
            assert abs(background - 1) < 0.05 and abs(low / high - 1) < 0.1, (background, low,
                                                                               high)
            # (measured 0.73 for both: a window half object, half background
            # ties and goes to the background, 0; objects this small lose most)
            assert 0.65 < low < 1.05 and 0.65 < high < 1.05, (low, high)
        else:   # (measured: background 0.97, objects 1.30)
            assert background < 0.99 and low > 1.2 and high > 1.2, (background, low, high)


def test_label_pyramids_are_ome_zarr_label_images(tmp_path):
    zarr = pytest.importorskip("zarr")
    lab = np.random.default_rng(13).integers(0, 30, (20, 22)).astype(np.uint32)
    for fmt in (3, 2):
        if fmt == 3 and int(zarr.__version__.split(".")[0]) < 3:
            continue
        path = str(tmp_path / f"labels{fmt}.zarr")
        pdask.pyramid(lab, 2, reduction="mode", store=path, zarr_format=fmt)
        model = _validate(path)
        assert type(model).__name__ == "ImageLabel"
        g = zarr.open_group(path, mode="r")
        meta = g.attrs["ome"] if fmt == 3 else g.attrs
        assert "image-label" in meta and meta["multiscales"][0]["type"] == "mode"


# ------------------------------------------- storage options, progress (#27)

def test_shards_hold_whole_dask_blocks(tmp_path):
    """With shards, every level's Zarr array has chunks inside shards (both
    clipped to the level), and each dask block written is one shard, so no
    two tasks write one file; values as without shards."""
    zarr = pytest.importorskip("zarr")
    if int(zarr.__version__.split(".")[0]) < 3:
        pytest.skip("shards need zarr-python 3")
    x = np.random.default_rng(14).standard_normal((100, 260)).astype(np.float32)
    seen = {}
    levels = pdask.pyramid(da.from_array(x, chunks=50), 2, reduction="mean",
                           store=str(tmp_path / "s.zarr"), chunks=32, shards=64,
                           progress=lambda i, lv: seen.setdefault(i, None if lv is None
                                                                  else lv.chunks))
    _check(levels, _levels_in_memory(x, 2, "mean"))
    g = zarr.open_group(str(tmp_path / "s.zarr"), mode="r")
    for i in range(len(levels)):
        a = g[str(i)]
        assert all(s % c == 0 for s, c in zip(a.shards, a.chunks))
        assert all(set(cs[:-1]) <= {s} and cs[-1] <= s for cs, s in zip(seen[i], a.shards))
    assert g["0"].shards == (64, 64) and g["1"].shards == (64, 64) and g["2"].shards == (25, 64)
    with pytest.raises(ValueError, match=r"pyramid: shards must be multiples of the chunks"):
        pdask.pyramid(x, 2, store=str(tmp_path / "t.zarr"), chunks=32, shards=48)
    with pytest.raises(ValueError, match=r"pyramid: shards need a Zarr v3 store"):
        pdask.pyramid(x, 2, store=str(tmp_path / "v2.zarr"), chunks=32, shards=64,
                      zarr_format=2)


@pytest.mark.parametrize("fmt", ["3", "2"])
def test_cli_codec_level_and_progress_in_a_log(tmp_path, fmt):
    """--codec and --level reach the arrays' metadata (Zarr v3 codecs or v2
    numcodecs); --progress prints a line per level on a stderr that is not a
    terminal (a batch job's log), without dask's progress bar."""
    zarr = pytest.importorskip("zarr")
    if fmt == "3" and int(zarr.__version__.split(".")[0]) < 3:
        pytest.skip("Zarr v3 needs zarr-python 3")
    x = np.arange(40 * 30, dtype=np.float32).reshape(40, 30)
    z = zarr.create_array(str(tmp_path / "in.zarr"), shape=x.shape, chunks=(16, 16),
                          dtype=x.dtype)
    z[...] = x
    proc = subprocess.run([sys.executable, "-m", "pooling.dask", "pyramid",
                           str(tmp_path / "in.zarr"), str(tmp_path / "o.zarr"), "--codec", "zstd",
                           "--level", "7", "--zarr-format", fmt, "--progress", "--levels", "3"],
                          env=subprocess_env(), capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert [ln.rsplit(", ", 1)[0] for ln in lines[:-1]] == [
        "pyramid: level 0 (40, 30) (6 blocks)", "pyramid: level 1 (20, 15) (2 blocks)",
        "pyramid: level 2 (10, 8) (1 blocks)"], lines
    assert re.fullmatch(r"pyramid: 3 levels written in \d+\.\d s", lines[-1])
    a = zarr.open_group(str(tmp_path / "o.zarr"), mode="r")["1"]
    if fmt == "3":
        codec = a.metadata.codecs[-1]
        assert type(codec).__name__ == "ZstdCodec" and codec.level == 7
    else:
        assert a.metadata.compressor.get_config() == {"id": "zstd", "level": 7,
                                                      "checksum": False} or \
            a.metadata.compressor.level == 7
    np.testing.assert_array_equal(a[...], _levels_in_memory(x, 2, "max", count=3)[1])
    bad = subprocess.run([sys.executable, "-m", "pooling.dask", "pyramid",
                          str(tmp_path / "in.zarr"), str(tmp_path / "p.zarr"), "--level", "3"],
                         env=subprocess_env(), capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 1 and bad.stderr.strip().endswith("--level needs --codec")
