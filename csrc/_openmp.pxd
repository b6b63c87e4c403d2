# Including <omp.h> only when the compiler runs with OpenMP lets the same
# generated C build serially without it (scikit-learn's shim pattern).
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define POOLING_OPENMP 1
    #else
    #define POOLING_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    bint POOLING_OPENMP
    int omp_get_max_threads() noexcept nogil
