"""Puts tests/compiler on sys.path for its helper, compiler_helpers.py (the diagrams the tests run over)."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
