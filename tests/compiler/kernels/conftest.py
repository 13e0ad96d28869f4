"""Kernel tests run Triton kernels on CPU through Triton's interpreter.

TRITON_INTERPRET must be in the environment before the kernel module is imported (triton.jit
decides interpreter vs compiler when a kernel is decorated), so it is set here, when pytest loads
this conftest during collection — before any test module of this folder imports the kernels, in
every xdist worker. An explicit TRITON_INTERPRET=0 (e.g. on a CUDA machine) is respected; the
Triton tests then run on the GPU instead.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
