"""Entry point of ``python -m workers.mic``."""

import sys

from workers.mic.worker import main

sys.exit(main())
