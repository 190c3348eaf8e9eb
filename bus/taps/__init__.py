"""The tools that attach to a bus: ``tap``, ``top``, ``record``, ``replay`` and ``metrics``.

Each is a command (``python -m bus.taps.top``) on a :class:`bus.taps.tapnode.TapNode`, the bounded
subscriber that loses its own messages rather than slow the pipeline down (``docs/taps.md``).
"""
