"""``python -m workers.demo``."""

from workers.demo.run import main

if __name__ == "__main__":
    raise SystemExit(main())
