"""The starter data composers (xguard, orbench, ifeval) and `mosaic data build` (build.py).

The shipped result lives in `STARTER_DIR`; docs/data.md is its data card.
"""

from pathlib import Path

STARTER_DIR = Path(__file__).resolve().parents[1] / "starter"
"""Where the shipped starter data lives (package data)."""
STARTER_OBJECTIVES = ("xguard", "orbench", "ifeval")
"""The objectives the starter data covers, in build order."""
