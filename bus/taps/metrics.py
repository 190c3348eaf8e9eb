"""Serve what travels on the bus as Prometheus metrics, on 127.0.0.1 only.

    python -m bus.taps.metrics                 # http://127.0.0.1:9465/metrics
    python -m bus.taps.metrics --port 0        # any free port (printed on stderr)

Exported (all names start with ``voicebus_``):

- per topic: ``topic_messages_total``, ``topic_bytes_total``, ``topic_gaps_total`` (messages
  the exporter missed, from sequence numbers: lost upstream or dropped by its own queue),
  ``topic_malformed_total``,
  ``topic_rate_messages_per_second`` and ``topic_rate_bytes_per_second`` (sliding window),
  ``topic_age_seconds`` (histogram of now - envelope timestamp on receipt; same machine);
- per worker, from sys.heartbeat / sys.lifecycle: ``worker_up``, ``worker_state{state}``,
  ``worker_restarts``, ``worker_heartbeat_age_seconds``, ``worker_loop_age_seconds``,
  ``worker_uptime_seconds``, ``worker_received``/``published``/``dropped``/``gaps`` (the
  worker's own counters) and, via psutil, ``worker_cpu_percent`` and ``worker_rss_bytes``;
- every sys.metric as ``voicebus_metric_<name>`` with labels ``worker`` plus the metric's own:
  a gauge, a counter (``_total``) or, for kind ``sample``, a summary (``_count``/``_sum``) and
  the last value (``_last``);
- per-turn latency from dialog.turn: ``turn_<stage>_seconds`` histograms by ``outcome`` for
  every stage of ``schemas.dialog.TurnMetrics`` (``vad_close``, ``asr_partial``, ``asr``,
  ``llm_ttft``, ``first_clause``, ``tts``, ``first_audio``, ``end_to_end``, ``stop``, ``bus``;
  stages reported as 0, i.e. not measured, are left out) and ``turn_speculative_total`` (turns
  whose transcript was the pause's speculative one, by ``outcome``);
- the exporter itself: ``tap_received_total``, ``tap_lost_total`` (dropped by the exporter's
  own queue because it was too slow), ``tap_malformed_total``.

The collector that builds them is :class:`bus.taps.busmetrics.BusMetrics`; this module serves it.
"""

from __future__ import annotations

import sys
import time

from prometheus_client import CollectorRegistry, start_http_server

from bus.taps.busmetrics import AGE_BUCKETS_S, BusMetrics
from bus.taps.observe import ProcessSampler
from bus.taps.tapcli import add_common_args, connect, parser_for, run_cli

__all__ = ["AGE_BUCKETS_S", "BusMetrics", "main"]


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = parser_for("bus.taps.metrics", __doc__)
    parser.add_argument(
        "--port", type=int, default=9465, help="TCP port on 127.0.0.1 (0 = any free port)"
    )
    parser.add_argument(
        "--window", type=float, default=10.0, metavar="S", help="rate window (default 10 s)"
    )
    add_common_args(parser, "metrics")
    args = parser.parse_args(argv)

    def run() -> int:
        tap, _stop = connect(args, ["*"], publisher=False)
        collector = BusMetrics(args.window, ProcessSampler())
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        try:
            server, thread = start_http_server(args.port, addr="127.0.0.1", registry=registry)
        except OSError as exc:
            tap.close()
            print(
                f"error: cannot serve on 127.0.0.1:{args.port} ({exc}); pick another --port.",
                file=sys.stderr,
            )
            return 2
        print(
            f"# metrics: serving http://127.0.0.1:{server.server_port}/metrics",
            file=sys.stderr,
            flush=True,
        )
        last_stats = 0.0
        try:
            while tap.running:
                item = tap.get(0.2)
                if item is not None:
                    msg = tap.decode(item)
                    collector.observe(item, msg, tap.last_gap)
                now = time.monotonic()
                if now - last_stats > 0.5:
                    collector.set_tap_stats(tap.stats)
                    last_stats = now
        finally:
            tap.close()
            server.shutdown()
            thread.join(timeout=2)
            st = tap.stats
            print(
                f"# metrics: received={st.received} lost_by_tap={st.lost} gaps={st.gaps} "
                f"(lost upstream about {max(0, st.gaps - st.lost)}) "
                f"malformed={st.malformed + st.refused_version}",
                file=sys.stderr,
            )
        return 0

    run_cli(run)
    return 0


if __name__ == "__main__":
    main()
