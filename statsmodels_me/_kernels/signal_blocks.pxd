# Blocks of clusters between checks for Ctrl-C in the kernels' cluster loops: the loops
# run without the GIL, so a KeyboardInterrupt can only be raised between blocks. A block
# is about 3e7 (row, node) evaluations per thread (well under a second); the cheap passes
# (Laplace, few nodes) stay one block, their loops unchanged.


cdef inline Py_ssize_t signal_block(Py_ssize_t G, double rows, double per_row,
                                    int nthreads) noexcept:
    """Clusters per block for ``G`` clusters of ``rows`` rows in all, ``per_row``
    evaluations per row (quadrature nodes times parameters)."""
    cdef double per_cluster, b
    if G <= 1 or rows <= 0:
        return G if G > 0 else 1
    per_cluster = rows / G * per_row
    b = 3e7 * (nthreads if nthreads > 1 else 1) / (per_cluster if per_cluster > 1 else 1)
    if b >= G:
        return G
    if b < 64 * nthreads:
        return 64 * nthreads
    return <Py_ssize_t>b
