"""Small workers for the supervisor's tests (run as ``python -m tests.supervision.workers.X``)."""
