"""Test worker: exits 0 if its memory is locked (``VmLck`` > 0 in /proc/self/status), else 1."""

import re
import sys
from pathlib import Path

m = re.search(r"^VmLck:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
sys.exit(0 if m and int(m.group(1)) > 0 else 1)
