"""`python -m msdepth` runs the command line tool."""

import sys

from msdepth.cli.main import main

sys.exit(main())
