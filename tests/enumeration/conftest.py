"""Puts tests/enumeration on sys.path for its helper, burnside.py (the closed-form Burnside counts)."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
