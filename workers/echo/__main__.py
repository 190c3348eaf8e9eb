"""Entry point of ``python -m workers.echo``."""

import sys

from workers.echo.worker import main

sys.exit(main())
