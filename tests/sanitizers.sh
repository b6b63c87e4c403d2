#!/usr/bin/env bash
# Debug (Cython bounds checking, -O0 -g) and AddressSanitizer builds of the
# kernels, each running the test suite.  Builds happen in a scratch copy of the
# tree, so the checkout's own in-place build is untouched.
#
#   bash tests/sanitizers.sh            # both
#   bash tests/sanitizers.sh debug      # one of them
#   bash tests/sanitizers.sh asan
#
# Needs: gcc with libasan, and a Python with numpy, Cython, pytest, hypothesis
# (torch and tinyml optional) as PYTHON (default: python3).
set -euo pipefail
PYTHON=${PYTHON:-python3}
src=$(cd "$(dirname "$0")/.." && pwd)
which=${1:-all}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fresh_copy() {
    rm -rf "$work/tree" && mkdir "$work/tree"
    (cd "$src" && git ls-files -z | xargs -0 tar cf -) | tar xf - -C "$work/tree"
}

if [ "$which" = all ] || [ "$which" = debug ]; then
    echo "== debug build: boundscheck and initializedcheck on, -O0 -g"
    fresh_copy
    (cd "$work/tree" && POOLING_DEBUG=1 "$PYTHON" setup.py -q build_ext --inplace >/dev/null \
        && POOLING_REQUIRE_CYTHON=1 "$PYTHON" -m pytest -q -p no:cacheprovider -m "not slow" \
               -W error::pytest.PytestUnraisableExceptionWarning tests)
fi

if [ "$which" = all ] || [ "$which" = asan ]; then
    echo "== AddressSanitizer build"
    fresh_copy
    asan=$(gcc -print-file-name=libasan.so)
    # PyTorch, matplotlib and the benchmark's other engines (onnx,
    # onnxruntime, openvino, jax) are hidden here: with libasan preloaded
    # into an uninstrumented interpreter, ASan's __cxa_throw interceptor is
    # unresolved and the first C++ exception any of them throws (torch, and
    # matplotlib's ft2font and the engines at import) aborts the process
    # ("CHECK failed: asan_interceptors.cpp:320").  Their tests skip; ours
    # all run.
    mkdir -p "$work/notorch"
    for m in torch matplotlib onnx onnxruntime openvino jax jaxlib; do
        echo "raise ModuleNotFoundError('$m is hidden in the ASan run')" > "$work/notorch/$m.py"
    done
    (cd "$work/tree" \
        && CFLAGS="-fsanitize=address -fno-omit-frame-pointer -O1 -g" \
           LDFLAGS="-fsanitize=address" "$PYTHON" setup.py -q build_ext --inplace >/dev/null \
        && LD_PRELOAD="$asan" ASAN_OPTIONS=detect_leaks=0 PYTHONMALLOC=malloc \
           PYTHONPATH="$work/notorch" \
           POOLING_REQUIRE_CYTHON=1 "$PYTHON" -m pytest -q -p no:cacheprovider -m "not slow" ${PYTEST_ARGS:-} tests)
fi
