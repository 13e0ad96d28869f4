"""Make the shared test helpers (calculus_helpers.py, torch reference implementations) importable."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
