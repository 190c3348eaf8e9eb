"""The examples live outside the package: put their folders on the import path, as running
``python examples/<name>/<file>.py`` would."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

for folder in ("keyword_spotter", "state_led"):
    path = str(EXAMPLES / folder)
    if path not in sys.path:
        sys.path.insert(0, path)
