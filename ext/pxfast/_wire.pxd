# Cython finds a module's .pxd by its full name (pxfast._wire), not by the
# .pyx file name, so this shim makes ext/wire.pxd the interface of
# pxfast._wire: for wire.pyx itself and for modules that
# `from pxfast._wire cimport FrameDecoder`.
include "wire.pxd"
