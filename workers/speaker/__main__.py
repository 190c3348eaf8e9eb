"""Entry point of ``python -m workers.speaker``."""

import sys

from workers.speaker.worker import main

sys.exit(main())
