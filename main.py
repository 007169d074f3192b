"""Saddle Lab's entry point: `python main.py` (the app), `--headless`, `--self-test`.

See `python main.py --help`.
"""

import sys
import time

STARTED = time.time()  # before the heavy imports, for the start-up measurement

from gui.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(started=STARTED))
