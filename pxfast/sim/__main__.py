"""``python -m pxfast.sim``: the same as ``pxfast sim``."""

import sys

from pxfast.sim.cli import main

sys.exit(main())
