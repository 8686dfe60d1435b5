# Cython finds a module's .pxd by its full name (pxfast._fsm), not by the
# .pyx file name, so this shim makes ext/fsm.pxd the interface of
# pxfast._fsm: for fsm.pyx itself and for modules that
# `from pxfast._fsm cimport OrderTable, Transition`.
include "fsm.pxd"
