"""Entry point of ``python -m zarrdask``: hands over to :func:`zarrdask.cli.main`."""

from __future__ import annotations

import sys

from zarrdask.cli import main

if __name__ == "__main__":
    sys.exit(main())
