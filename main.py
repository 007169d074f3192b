"""Saddle Lab's entry point: `python main.py` (the app), `--headless`, `--self-test`.

See `python main.py --help`.
"""

import sys

from gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
