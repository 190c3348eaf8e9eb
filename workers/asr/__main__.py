"""``python -m workers.asr``: run the ASR worker."""

import sys

from workers.asr.worker import main

sys.exit(main())
