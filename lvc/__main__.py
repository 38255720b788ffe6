"""``python -m lvc``: the same command as ``lvc``."""

import sys

from lvc.cli import main

if __name__ == "__main__":
    sys.exit(main())
