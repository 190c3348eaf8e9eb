"""Test worker: dies at start with status ``$CRASH_CODE`` (default 3), before joining the bus."""

import os
import sys

sys.stderr.write("crash: failing at start on purpose\n")
sys.exit(int(os.environ.get("CRASH_CODE", "3")))
