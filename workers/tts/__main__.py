"""``python -m workers.tts``."""

from workers.tts.worker import main

if __name__ == "__main__":
    raise SystemExit(main())
