"""The model machinery. numpy's BLAS runs on one thread in fakerek's process (unless
OPENBLAS_NUM_THREADS says otherwise): the heads' matrix products are small and memory-bound,
and OpenBLAS's worker threads spin while they wait, so on a machine whose other core is busy
each product waited for a time slice and training ran several times slower. The variable is
read when numpy loads OpenBLAS, which in the server is after this package is imported (the ML
stack loads with the first training or model); where numpy was loaded first it has no effect.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
