"""Run a project-x-py bot on the real project-x-py 4.4.1 against a standalone simulator.

Used by ``test_bots.py`` with the reference venv's Python 3.12, never
imported by pytest: ``python run_reference.py BOT [ARGS...]``.  The bot runs
as ``__main__`` exactly as written; the one change to project-x-py is the one
``pxpy_session.py`` makes (gateway-protocol.md §13.2): ``ProjectXConfig``'s
default URLs point at the simulator named in ``PROJECTX_*_URL``, because
``TradingSuite.create`` always builds its client from those defaults.
"""

from __future__ import annotations

import os
import runpy
import sys

from pxpy_session import point_defaults_at_simulator

if __name__ == "__main__":
    point_defaults_at_simulator()
    bot = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(bot)))
    runpy.run_path(bot, run_name="__main__")
