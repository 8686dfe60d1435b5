"""Build the compiled core: every ``ext/<name>.pyx`` becomes ``pxfast._<name>``.

Cython and numpy arrive through build isolation (``pyproject.toml``), so a
machine with Python >= 3.11 and a C compiler is enough for ``pip install .``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
EXT_DIR = HERE / "ext"

# PXFAST_DEBUG=1 builds with assertions and without -O3 for gdb/valgrind sessions.
DEBUG = os.environ.get("PXFAST_DEBUG") == "1"
CFLAGS = ["-O0", "-g"] if DEBUG else ["-O3"]


# PXFAST_EXT=ticks,fsm builds only those modules (a development shortcut).
ONLY = {name for name in os.environ.get("PXFAST_EXT", "").split(",") if name}


def extensions() -> list[Extension]:
    exts = []
    for pyx in sorted(EXT_DIR.glob("*.pyx")):
        if ONLY and pyx.stem not in ONLY:
            continue
        exts.append(
            Extension(
                f"pxfast._{pyx.stem}",
                [str(pyx.relative_to(HERE))],
                include_dirs=[str(EXT_DIR), numpy.get_include()],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                extra_compile_args=CFLAGS,
            )
        )
    return exts


setup(
    ext_modules=cythonize(
        extensions(),
        include_path=[str(EXT_DIR)],
        language_level=3,
        annotate=os.environ.get("PXFAST_ANNOTATE") == "1",
        compiler_directives={
            "boundscheck": DEBUG,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": DEBUG,
            "embedsignature": True,
        },
    ),
)
