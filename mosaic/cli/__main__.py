"""`python -m mosaic.cli ...` runs the `mosaic` command."""

import sys

from mosaic.cli import main

sys.exit(main())
