"""`python -m msdepth` runs the command line tool."""

import sys

from msdepth.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
