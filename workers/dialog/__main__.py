"""``python -m workers.dialog``."""

from workers.dialog.worker import main

if __name__ == "__main__":
    raise SystemExit(main())
