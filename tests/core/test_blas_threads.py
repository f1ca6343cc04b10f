"""The engine runs numpy's BLAS on one thread (engine/__init__.py): a second OpenBLAS thread
busy-waits between the frame path's small products and takes the core llvmpipe needs."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

# Imports the engine first, as every entry point does, then asks the OpenBLAS numpy loaded
# how many threads it runs.
PROBE = """
import ctypes
import engine
import numpy
libraries = {line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line.lower()}
counts = []
for path in libraries:
    library = ctypes.CDLL(path)
    for symbol in ("openblas_get_num_threads64_", "openblas_get_num_threads"):
        if hasattr(library, symbol):
            counts.append(getattr(library, symbol)())
print(counts)
"""


def _blas_threads(environment: dict[str, str]) -> list[int]:
    done = subprocess.run([sys.executable, "-c", PROBE], env=environment, capture_output=True,
                          text=True, timeout=60, check=True)
    return ast.literal_eval(done.stdout.strip())


def test_the_engine_runs_blas_on_one_thread():
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    assert _blas_threads(environment) == [1]


def test_a_users_own_blas_setting_wins():
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    assert _blas_threads(environment) == [2]
