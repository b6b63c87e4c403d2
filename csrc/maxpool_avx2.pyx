# pooling._core._maxpool_avx2: maxpool.pyx compiled with AVX2 (setup.py's VARIANTS
# has the flags).  A file of its own only because Cython names a module's
# init function after its file; the kernels have one source, maxpool.pyx.
include "maxpool.pyx"
