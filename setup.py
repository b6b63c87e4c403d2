"""Build the Cython kernels in csrc/ (maxpool.pyx and the .pxi files it
includes, one compilation unit) into pooling._core._maxpool, and the same
kernels again into one extension per CPU variant (pooling._core._maxpool_avx2), which
pooling._core.backend picks from at import by the CPU's features.

The baseline module is compiled for the compiler's default target (SSE2 on
x86-64), never with -march=native: wheels must run on any x86-64.  A variant
is the same source compiled with its ISA flags (csrc/maxpool_avx2.pyx only
includes maxpool.pyx: Cython names a module's init function after its file).
Variants are built with GCC or Clang when a probe program compiles for
x86-64 with their flags; elsewhere (MSVC, ARM) only the baseline is built.

OpenMP is used when the compiler accepts it (checked by compiling a tiny
program), otherwise the same sources build serially.  No -march=native: wheels
must run on any x86-64.  If the compiler fails, the install still succeeds and
pooling runs on its NumPy reference (it warns at import); release wheel builds
(CIBUILDWHEEL=1) make the extension mandatory instead.  Environment switches:
  POOLING_PURE_PYTHON=1  install without compiling (the NumPy reference serves)
  POOLING_DEBUG=1        Cython boundscheck and initializedcheck on, -O0 -g
  POOLING_NO_OPENMP=1    serial kernels even where OpenMP is available
  POOLING_BASELINE_ONLY=1  no CPU variants (a quicker build for development)
"""
import glob
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

def _flag(name):
    return os.environ.get(name, "") not in ("", "0")


DEBUG = _flag("POOLING_DEBUG")
PURE_PYTHON = _flag("POOLING_PURE_PYTHON")
# A release wheel without its kernels would be a silent regression.
REQUIRED = _flag("CIBUILDWHEEL")

_OMP_TEST = b"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def _openmp_flags(compiler):
    """(compile flags, link flags) that build with OpenMP here, or ([], [])."""
    if _flag("POOLING_NO_OPENMP"):
        return [], []
    ctype = compiler.compiler_type
    if ctype == "msvc":
        return ["/openmp"], []
    candidates = [(["-fopenmp"], ["-fopenmp"])]
    if sys.platform == "darwin":
        candidates.append((["-Xpreprocessor", "-fopenmp"], ["-lomp"]))
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "omp_test.c")
        with open(src, "wb") as f:
            f.write(_OMP_TEST)
        for cflags, ldflags in candidates:
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                # The user's LDFLAGS too: with -fsanitize=address in CFLAGS
                # the probe only links with the matching runtime.
                compiler.link_executable(objs, "omp_test", output_dir=tmp,
                                         extra_postargs=ldflags + shlex.split(
                                             os.environ.get("LDFLAGS", "")))
                subprocess.run([os.path.join(tmp, "omp_test")], check=True,
                               capture_output=True)
                return cflags, ldflags
            except Exception:  # noqa: BLE001 - any failure means "not this way"
                continue
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("pooling: the compiler does not support OpenMP; building serial kernels",
          file=sys.stderr)
    return [], []


# CPU variants: module suffix -> compiler flags.  FMA comes with every AVX2
# CPU (x86-64-v3); -ffp-contract=off keeps it from fusing any float a*b+c,
# whose rounding would then differ from the baseline's.  AVX2's gain is its
# selects (blends, 64-bit compares), not its width: with 256-bit vectors
# each row's loops end in up to 3 scalar, branchy iterations (SSE2's in at
# most 1), which made short rows slower than the baseline
# (docs/performance.md), so GCC is told to vectorise 128 bits wide.
# AVX-512 was slower still and is not built.
VARIANTS = {
    "avx2": ["-mavx2", "-mfma", "-ffp-contract=off", "-mprefer-vector-width=128"],
}

_ISA_TEST = b"""
#if !defined(__x86_64__)
#error "not x86-64"
#endif
#include <immintrin.h>
int main(void) {
    __m256i a = _mm256_set1_epi32(1);
    return _mm256_extract_epi32(_mm256_add_epi32(a, a), 0) == 2 ? 0 : 1;
}
"""


def _accepts(compiler, flags):
    """Whether the compiler builds an x86-64 program with these ISA flags (the
    program is not run: the build machine may lack the ISA)."""
    if compiler.compiler_type == "msvc":
        return False
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "isa_test.c")
        with open(src, "wb") as f:
            f.write(_ISA_TEST)
        compiler.compile([src], output_dir=tmp, extra_postargs=flags)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not with these flags"
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        # The variants are independent compilation units of one large
        # generated C file each: compile them side by side.
        if self.parallel is None:
            self.parallel = True

    def run(self):
        inplace = self.inplace  # setuptools clears it while building
        super().run()
        if inplace:
            # A variant left from an earlier in-place build would be chosen at
            # import although it holds older kernels than the baseline.
            built = {ext.name for ext in self.extensions}
            for name in VARIANTS:
                if f"{MODULE}_{name}" not in built:
                    for old in glob.glob(os.path.join("pooling", "_core", f"_maxpool_{name}.*")):
                        if not old.endswith((".py", ".pyi")):
                            os.remove(old)

    def build_extensions(self):
        kept = []
        for ext in self.extensions:
            flags = VARIANTS.get(ext.name[len(MODULE) + 1:], [])
            if flags and not _accepts(self.compiler, flags):
                print(f"pooling: the compiler does not build x86-64 code with "
                      f"{' '.join(flags)}; not building {ext.name}", file=sys.stderr)
                continue
            ext.extra_compile_args = flags + ext.extra_compile_args
            kept.append(ext)
        self.extensions[:] = kept
        cflags, ldflags = _openmp_flags(self.compiler)
        opt = []
        if self.compiler.compiler_type != "msvc":
            # Functions start on 64-byte boundaries, so that where a hot loop
            # falls against cache lines and fetch windows depends on its own
            # function only, not on how much code precedes it: moving code
            # elsewhere in the module has slowed instruction-identical loops.
            opt = ["-O0", "-g"] if DEBUG else ["-O3", "-falign-functions=64"]
        for ext in self.extensions:
            ext.extra_compile_args = opt + cflags + ext.extra_compile_args
            ext.extra_link_args = ldflags + ext.extra_link_args
        super().build_extensions()


# The only place the Cython directives are set: a "# cython:" header in a
# .pyx would override these, POOLING_DEBUG's checks included.
directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
}

# The cores' package (pooling._core): the compiled kernels sit beside the
# NumPy core, below the call sequence.
MODULE = "pooling._core._maxpool"
extensions = [
    Extension(
        MODULE,
        ["csrc/maxpool.pyx"],
        include_dirs=["csrc"],
    )
]
if sys.platform != "win32" and not _flag("POOLING_BASELINE_ONLY"):
    extensions += [Extension(f"{MODULE}_{name}", [f"csrc/maxpool_{name}.pyx"],
                             include_dirs=["csrc"])
                   for name in VARIANTS]

# Debug and release builds generate different C from the same sources, and
# cythonize's timestamps cannot tell which one csrc/maxpool.c holds: a file
# in build/ records it, and a build in the other mode regenerates the C (and
# so recompiles it).
MODE = "debug" if DEBUG else "release"
MODE_FILE = os.path.join("build", "pooling-cython-mode")


def _c_mode():
    try:
        with open(MODE_FILE) as f:
            return f.read().strip()
    except OSError:
        return None


if PURE_PYTHON:
    print("pooling: POOLING_PURE_PYTHON is set; installing without the compiled "
          "kernels (the NumPy reference will serve)", file=sys.stderr)
    setup()
else:
    # The baseline and each variant cythonize the same large source (about
    # 30 s each): side by side where worker processes fork cheaply.
    ext_modules = cythonize(
        extensions,
        include_path=["csrc"],
        compiler_directives=directives,
        force=DEBUG or _c_mode() != MODE,
        nthreads=min(len(extensions), os.cpu_count() or 1) if sys.platform == "linux" else 0,
    )
    os.makedirs(os.path.dirname(MODE_FILE), exist_ok=True)
    with open(MODE_FILE, "w") as f:
        f.write(MODE)
    for ext in ext_modules:
        ext.optional = not REQUIRED  # cythonize() does not carry it over
    setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildExt})
