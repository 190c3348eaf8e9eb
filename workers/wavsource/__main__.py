"""Entry point of ``python -m workers.wavsource``."""

import sys

from workers.wavsource.worker import main

sys.exit(main())
