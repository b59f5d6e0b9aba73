"""Build the Cython extension modules: every .pyx under statsmodels_me/ becomes one module."""
import os
import sys
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent


def _openmp_flags():
    # OpenMP with gcc/clang on Linux; MSVC and macOS's clang fall back to serial prange.
    if sys.platform.startswith("linux") and os.environ.get("SME_NO_OPENMP") != "1":
        return ["-fopenmp"], ["-fopenmp"]
    return [], []


def extensions():
    cflags, lflags = _openmp_flags()
    exts = []
    for pyx in sorted((HERE / "statsmodels_me").rglob("*.pyx")):
        rel = pyx.relative_to(HERE).with_suffix("")
        exts.append(Extension(
            ".".join(rel.parts), [str(pyx.relative_to(HERE))],
            include_dirs=[np.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=["-O3"] + cflags,
            extra_link_args=lflags,
        ))
    return cythonize(exts, language_level=3, compiler_directives={
        "boundscheck": False, "wraparound": False, "cdivision": True,
        "initializedcheck": False})


setup(ext_modules=extensions())
