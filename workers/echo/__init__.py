"""The ``echo`` worker: counts messages per topic and reports the counts as ``sys.metric``.

The recipe is in :mod:`workers.echo.worker`; run it with ``python -m workers.echo``.
"""
