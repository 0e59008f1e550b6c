"""One BLAS thread for the forward passes of `autocomplete predict` and `autocomplete repl`.

numpy's OpenBLAS splits the output layer's matrix-vector product (128 x 20k) over every core. For one
suggestion that costs more than it gives, and in the REPL the panel worker, the completer and the
auto-suggest threads may each run one at the same time: measured on 2 cores with other work running,
a 20k-word forward pass took 8 ms p50 with OpenBLAS's threads against 0.4 ms with one.

OpenBLAS reads OPENBLAS_NUM_THREADS only when it loads (with numpy, which the CLI imports before it knows
the command), so this calls its `openblas_set_num_threads` at run time, as threadpoolctl does; training
keeps every thread. Best effort: on a system without /proc or without OpenBLAS (macOS Accelerate, MKL)
it does nothing; a thread count the user set is kept.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads")


def use_one_blas_thread() -> bool:
    """Ask every loaded OpenBLAS for one thread; True if one was found and told."""
    if any(os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")):
        return False  # the user chose
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    libraries = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower() and "/" in line}
    done = False
    for library in sorted(libraries):
        try:
            handle = ctypes.CDLL(library)
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(handle, name, None)
            if setter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                setter(1)
                done = True
                break
    return done
