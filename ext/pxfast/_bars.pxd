# Cython finds a module's .pxd by its full name (pxfast._bars), not by the
# .pyx file name, so this shim makes ext/bars.pxd the interface of
# pxfast._bars: for bars.pyx itself and for modules that
# `from pxfast._bars cimport BarAggregator, BarTrack`.
include "bars.pxd"
