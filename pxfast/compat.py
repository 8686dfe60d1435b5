"""Opt-in drop-in mode: ``import project_x_py`` resolves to pxfast.

A bot written for project-x-py runs unchanged on pxfast once this is
installed, either from code::

    import pxfast.compat
    pxfast.compat.install()
    from project_x_py import TradingSuite  # pxfast.trading_suite.TradingSuite

or without touching the bot at all::

    python -m pxfast.compat bot.py [args...]

``project_x_py.X`` is mapped one to one onto ``pxfast.X``, and both names
are bound to the *same* module object: a class imported under one name is
the class imported under the other, so ``isinstance`` checks and ``except``
clauses work whichever name a piece of code used.

project-x-py modules that pxfast does not implement (technical indicators,
order-book analytics, ...) fail to import with an
``ImportError`` that names the module and says why, never with a silently
empty stand-in: a bot that depends on one of them should stop at import,
not at its first trade.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = [
    "ALIAS",
    "NOT_IMPLEMENTED",
    "TARGET",
    "ProjectXPyAliasFinder",
    "install",
    "installed",
    "main",
    "uninstall",
]

#: The package name bots import.
ALIAS = "project_x_py"
#: The package that provides it.
TARGET = "pxfast"

#: project-x-py packages pxfast deliberately leaves out, with what they are for.
NOT_IMPLEMENTED: dict[str, str] = {
    "data": "memory-mapped bar storage",
    "indicators": "technical indicators",
    "orderbook": "order-book analytics",
    "statistics": "statistics aggregation and export",
}


def _target_name(fullname: str) -> str:
    return TARGET + fullname[len(ALIAS) :]


def _is_alias(fullname: str) -> bool:
    return fullname == ALIAS or fullname.startswith(ALIAS + ".")


class _AliasLoader(importlib.abc.Loader):
    """Hands the import system the already-imported pxfast module itself.

    ``create_module`` returns the existing module, so the import machinery
    binds ``sys.modules["project_x_py.X"]`` to the very object that
    ``sys.modules["pxfast.X"]`` holds; the module's own ``__name__``,
    ``__spec__`` and ``__file__`` are left as they are (the machinery only
    fills in attributes that are missing).
    """

    def __init__(self, module: ModuleType) -> None:
        self._module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self._module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the pxfast module was executed by its own import."""


class ProjectXPyAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves ``project_x_py[.X]`` to ``pxfast[.X]`` (a meta-path finder)."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not _is_alias(fullname):
            return None
        module = _import_target(fullname)
        is_package = hasattr(module, "__path__")
        return importlib.machinery.ModuleSpec(
            fullname,
            _AliasLoader(module),
            origin=getattr(module, "__file__", None),
            is_package=is_package,
        )


def _import_target(fullname: str) -> ModuleType:
    """The pxfast module behind ``fullname``, or an ImportError that names what is missing."""
    target = _target_name(fullname)
    if importlib.util.find_spec(target) is None:
        first = fullname.split(".")[1] if "." in fullname else ""
        why = NOT_IMPLEMENTED.get(first)
        detail = (
            f"pxfast does not implement project-x-py's {why} ({ALIAS}.{first})"
            if why is not None
            else f"pxfast has no {target} module"
        )
        raise ModuleNotFoundError(
            f"{fullname} is not available under pxfast.compat: {detail}. pxfast implements "
            "project-x-py's trading stack (client, orders, positions, risk, realtime data, "
            "events); import this feature from project-x-py itself, without pxfast.compat.",
            name=fullname,
        )
    return importlib.import_module(target)


_finder: ProjectXPyAliasFinder | None = None


def installed() -> bool:
    """Whether ``install()`` is in effect."""
    return _finder is not None and _finder in sys.meta_path


def install() -> None:
    """Make ``import project_x_py[.X]`` resolve to ``pxfast[.X]``; calling it again is a no-op.

    Raises RuntimeError if the real project-x-py was already imported in
    this process: its objects are in use, and two libraries answering to one
    name would make ``isinstance`` lie.
    """
    global _finder
    if installed():
        return
    for name, module in list(sys.modules.items()):
        if _is_alias(name) and not _is_pxfast_module(module):
            raise RuntimeError(
                f"the real {name} is already imported; install pxfast.compat before any "
                f"import of {ALIAS}"
            )
    _finder = ProjectXPyAliasFinder()
    sys.meta_path.insert(0, _finder)


def uninstall() -> None:
    """Undo ``install()``: remove the finder and the ``project_x_py`` names it created.

    Modules that already imported names from ``project_x_py`` keep the pxfast
    objects they hold.
    """
    global _finder
    if _finder is not None:
        while _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        _finder = None
    for name, module in list(sys.modules.items()):
        if _is_alias(name) and _is_pxfast_module(module):
            del sys.modules[name]


def _is_pxfast_module(module: object) -> bool:
    name = getattr(module, "__name__", "")
    return isinstance(name, str) and (name == TARGET or name.startswith(TARGET + "."))


_USAGE = """usage: python -m pxfast.compat SCRIPT [ARGS...]
       python -m pxfast.compat -m MODULE [ARGS...]

Run a project-x-py bot on pxfast: installs pxfast.compat, then runs SCRIPT
(or MODULE) as __main__ with sys.argv set to [SCRIPT, ARGS...]."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run a script or module as ``__main__`` with compat installed; returns the exit status.

    The script sees what ``python SCRIPT ARGS`` would give it: ``sys.argv``,
    its own directory first on ``sys.path``, and ``__name__ == "__main__"``.
    ``SystemExit`` from the script passes through, so its exit code is the
    process's.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE, file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    install()
    if args[0] == "-m":
        if len(args) < 2:
            print(_USAGE, file=sys.stderr)
            return 2
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        return 0
    script = args[0]
    if not os.path.exists(script):
        print(f"pxfast.compat: can't open file {script!r}", file=sys.stderr)
        return 2
    sys.argv = [script, *args[1:]]
    script_dir = os.path.dirname(os.path.abspath(script))
    if sys.path and sys.path[0] in ("", os.getcwd()):
        sys.path[0] = script_dir  # what `python SCRIPT` puts first
    else:
        sys.path.insert(0, script_dir)
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    # Run the canonical module's main, not this ``__main__`` copy's: a bot that
    # imports pxfast.compat itself must see the same installed finder.
    from pxfast import compat as _compat

    sys.exit(_compat.main())
