"""pooling.dask.pyramid under zarr-python 2 (the suite runs zarr-python 3):
an OME-Zarr 0.4 image with axes, scale and units, the in-place rebuild
refused for every form of input and store, an interrupted run resumed, a
label pyramid, the CLI from an OME-Zarr group with --codec.  Run by hand in
an environment with zarr 2, then validate the stores it leaves in
/tmp/s17/z2 with ome-zarr-models (which needs zarr-python 3):

    pip install "zarr==2.18.7" "dask[array]" distributed && pip install .
    python tests/check_zarr2.py
    for s in img r lab cli; do ome-zarr-models validate /tmp/s17/z2/$s.zarr; done
"""
import shutil, subprocess, sys, numpy as np, zarr, dask.array as da
import pooling.dask as pd
print("zarr", zarr.__version__)
base = "/tmp/s17/z2"
shutil.rmtree(base, ignore_errors=True)
x = np.random.default_rng(0).standard_normal((2, 12, 40, 44)).astype(np.float32)
lv = pd.pyramid(x, (1, 1, 2, 2), reduction="mean", store=f"{base}/img.zarr", axes="czyx",
                scale=(1, 2, 0.2, 0.2), units="micrometer")
g = zarr.open_group(f"{base}/img.zarr", mode="r")
print("levels", sorted(g.array_keys(), key=int), "attrs", list(g.attrs), g["1"].chunks,
      g["1"]._dimension_separator)
# in-place refusal, every form
for image, store in [(da.from_zarr(f"{base}/img.zarr", component="0"), f"{base}/img.zarr"),
                     (g["0"], zarr.open_group(f"{base}/img.zarr")),
                     (zarr.open_group(f"{base}/img.zarr"), f"{base}/img.zarr")]:
    try:
        pd.pyramid(image, (1, 1, 2, 2) if not isinstance(image, zarr.Group) else 2,
                   store=store, overwrite=True, axes="czyx" if not isinstance(image, zarr.Group) else None)
        print("NOT REFUSED")
    except ValueError as e:
        print("refused:", str(e)[:80])
assert np.array_equal(zarr.open_group(f"{base}/img.zarr")["0"][...], x)
# interrupted, resumed
class K(Exception): pass
def stop(i, l):
    if i == 2: raise K
try:
    pd.pyramid(x, (1, 1, 2, 2), store=f"{base}/r.zarr", axes="czyx", progress=stop)
except K:
    pass
print("record", dict(zarr.open_group(f"{base}/r.zarr").attrs)["pooling"]["pyramid"]["complete"])
pd.pyramid(x, (1, 1, 2, 2), store=f"{base}/r.zarr", axes="czyx", resume=True)
print("after resume", list(zarr.open_group(f"{base}/r.zarr").attrs))
# labels
lab = np.random.default_rng(1).integers(0, 9, (30, 31)).astype(np.uint16)
pd.pyramid(lab, 2, reduction="mode", store=f"{base}/lab.zarr")
# CLI from an OME-Zarr group input
p = subprocess.run([sys.executable, "-m", "pooling.dask", "pyramid", f"{base}/img.zarr",
                    f"{base}/cli.zarr", "--factors", "1,1,2,2", "--levels", "2", "--codec",
                    "zstd", "--level", "5"], capture_output=True, text=True)
print("cli", p.returncode, p.stderr.strip()[-200:])
print(zarr.open_array(f"{base}/cli.zarr/1").compressor)
