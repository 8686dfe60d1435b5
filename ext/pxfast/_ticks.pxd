# Cython finds a module's .pxd by its full name (pxfast._ticks), not by the
# .pyx file name, so this shim makes ext/ticks.pxd the interface of
# pxfast._ticks: for ticks.pyx itself and for modules that
# `from pxfast._ticks cimport TickSize`.
include "ticks.pxd"
