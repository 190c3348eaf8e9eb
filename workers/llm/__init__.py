"""The ``llm`` worker: consumes ``llm.request`` and ``llm.abort``; produces ``llm.delta``,
``llm.reply`` and ``sys.metric``.

``__main__`` is the recipe (``python -m workers.llm``), ``manifest`` and ``settings`` what it
declares; ``service`` the queue of requests, aborts and history (pure of the bus), ``engine`` one
generation, ``backends`` the model runtimes and servers, ``metrics`` and ``errors``. See
``docs/llm.md``. Text utilities it shares with the dialog live in :mod:`text`.
"""
