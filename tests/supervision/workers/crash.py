"""Test worker: dies at start with status ``$CRASH_CODE`` (default 3), before joining the bus,
leaving its reason where the supervisor looks for it (as any executable may)."""

import os
import sys

code = int(os.environ.get("CRASH_CODE", "3"))
sys.stderr.write("crash: failing at start on purpose\n")
if os.environ.get("VOICEBUS_REASON_FILE"):
    with open(os.environ["VOICEBUS_REASON_FILE"], "w") as f:
        f.write(f"crash: failing at start on purpose (exit {code})\n")
sys.exit(code)
