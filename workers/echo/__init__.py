"""The ``echo`` worker: counts messages per topic and reports the counts as ``sys.metric``.

Consumes every topic matching ``settings.topics`` (globs, default ``*``), except its own output;
produces ``sys.metric`` ``topic_messages`` (kind ``counter``, label ``topic``) for each topic
whose count changed, every ``report_every_s``. The smallest real consumer: demos, smoke tests,
supervisor tests.

``__main__`` is the recipe (``python -m workers.echo``), ``manifest`` and ``settings`` what it
declares, ``counter`` the counting.
"""
