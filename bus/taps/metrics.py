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
- per-turn latency from dialog.turn: ``turn_<stage>_seconds`` histograms by ``outcome``
  (stages reported as 0, i.e. not measured, are left out);
- the exporter itself: ``tap_received_total``, ``tap_lost_total`` (dropped by the exporter's
  own queue because it was too slow), ``tap_malformed_total``.
"""

from __future__ import annotations

import math
import re
import sys
import threading
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from bus.framing import Envelope
from bus.taps.observe import BusObserver, ProcessSampler
from bus.taps.tapcli import add_common_args, connect, parser_for, run_cli
from bus.taps.tapnode import Received, TapStats
from schemas.dialog import TurnMetrics
from schemas.system import Metric as MetricMsg

__all__ = ["AGE_BUCKETS_S", "BusMetrics", "main"]

#: Buckets of message age, s.
AGE_BUCKETS_S = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.05, 0.1, 0.25, 1.0)
#: Buckets of turn stage latency, s.
TURN_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
#: Worker states exported as ``worker_state{state=...}``.
STATES = ("starting", "ready", "stopping", "silent", "exited", "hung", "restarting", "gave_up")
_TURN_STAGES = [f for f in TurnMetrics.model_fields if f.endswith("_ms")]
_BAD_NAME = re.compile(r"[^a-zA-Z0-9_]")


def _name(text: str) -> str:
    clean = _BAD_NAME.sub("_", text)
    return clean if clean and not clean[0].isdigit() else f"_{clean}"


class _Hist:
    """A fixed-bucket histogram."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        for i, b in enumerate(self.bounds):
            if value <= b:
                self.counts[i] += 1
                break

    def add_to(self, m: Metric, name: str, labels: dict[str, str]) -> None:
        running = 0
        for b, c in zip(self.bounds, self.counts, strict=True):
            running += c
            m.add_sample(f"{name}_bucket", {**labels, "le": repr(float(b))}, running)
        m.add_sample(f"{name}_bucket", {**labels, "le": "+Inf"}, self.count)
        m.add_sample(f"{name}_count", labels, self.count)
        m.add_sample(f"{name}_sum", labels, self.sum)


class BusMetrics(Collector):
    """Accumulates what the exporter sees; a Prometheus collector rendering it on scrape."""

    def __init__(self, window_s: float = 10.0, sampler: ProcessSampler | None = None) -> None:
        self.lock = threading.Lock()
        self.observer = BusObserver(window_s)
        self.sampler = sampler
        self.tap = TapStats()
        self._ages: dict[str, _Hist] = {}
        self._turns: dict[tuple[str, str], _Hist] = {}
        # (family, kind) -> {(worker, labels...): [value, count, sum]}
        self._app: dict[tuple[str, str], dict[tuple[tuple[str, str], ...], list[float]]] = {}

    def observe(self, item: Received, msg: Envelope | Exception, gap: int = 0) -> None:
        """Account for one received frame set."""
        with self.lock:
            self.observer.observe(item, msg, gap)
            if isinstance(msg, Exception):
                return
            hist = self._ages.get(msg.topic)
            if hist is None:
                hist = self._ages[msg.topic] = _Hist(AGE_BUCKETS_S)
            hist.observe(max(0.0, (item.recv_ns - msg.ts_ns) / 1e9))
            if isinstance(msg.payload, MetricMsg):
                self._app_metric(msg.payload)
            elif isinstance(msg.payload, TurnMetrics):
                for stage in _TURN_STAGES:
                    if getattr(msg.payload, stage) <= 0:
                        continue  # 0 = stage not measured in this turn
                    key = (stage[: -len("_ms")], msg.payload.outcome)
                    h = self._turns.get(key)
                    if h is None:
                        h = self._turns[key] = _Hist(TURN_BUCKETS_S)
                    h.observe(getattr(msg.payload, stage) / 1000.0)

    def _app_metric(self, m: MetricMsg) -> None:
        family = f"voicebus_metric_{_name(m.name)}"
        for (fam, kind), _ in self._app.items():
            if fam == family and kind != m.kind:
                family = f"{family}_{m.kind}"  # the same name used with two kinds
                break
        series = self._app.setdefault((family, m.kind), {})
        labels = (("worker", m.worker), *sorted((_name(k), v) for k, v in m.labels.items()))
        slot = series.setdefault(labels, [0.0, 0.0, 0.0])
        slot[0] = m.value
        slot[1] += 1
        slot[2] += m.value

    def set_tap_stats(self, stats: TapStats) -> None:
        """Copy the exporter's own counters (called from the receive loop)."""
        with self.lock:
            self.tap = TapStats(
                received=stats.received,
                lost=stats.lost,
                malformed=stats.malformed,
                refused_version=stats.refused_version,
            )

    # --- rendering -----------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """The metrics now (called by prometheus_client on every scrape)."""
        with self.lock:
            yield from self._collect_topics()
            yield from self._collect_workers()
            yield from self._collect_app()
            yield from self._collect_turns()
            yield from self._collect_tap()

    def _collect_topics(self) -> Iterator[Metric]:
        rows = self.observer.topic_rows()
        specs = [
            ("topic_messages_total", "counter", "messages", "Messages received per topic."),
            ("topic_bytes_total", "counter", "bytes", "Bytes (all frames) per topic."),
            ("topic_gaps_total", "counter", "gaps", "Messages the exporter missed (seq gaps)."),
            ("topic_malformed_total", "counter", "malformed", "Undecodable frames per topic."),
            ("topic_rate_messages_per_second", "gauge", "msgs_per_s", "Messages/s (window)."),
            ("topic_rate_bytes_per_second", "gauge", "bytes_per_s", "Bytes/s (window)."),
        ]
        for suffix, kind, key, doc in specs:
            name = f"voicebus_{suffix}"
            base = name[: -len("_total")] if kind == "counter" else name
            m = Metric(base, doc, kind)
            for r in rows:
                m.add_sample(name, {"topic": r["topic"]}, float(r[key]))
            yield m
        m = Metric("voicebus_topic_age_seconds", "Age of messages when received.", "histogram")
        for topic, h in sorted(self._ages.items()):
            h.add_to(m, "voicebus_topic_age_seconds", {"topic": topic})
        yield m

    def _collect_workers(self) -> Iterator[Metric]:
        rows = self.observer.worker_rows(self.sampler)
        specs = [
            ("worker_restarts", "restarts", 1.0, "Restarts of the worker so far."),
            ("worker_heartbeat_age_seconds", "beat_age_s", 1.0, "Seconds since last heartbeat."),
            ("worker_loop_age_seconds", "loop_age_ms", 1e-3, "Seconds since its loop polled."),
            ("worker_uptime_seconds", "uptime_s", 1.0, "Uptime reported by the worker."),
            ("worker_received", "received", 1.0, "Messages the worker received (its count)."),
            ("worker_published", "published", 1.0, "Messages the worker published."),
            ("worker_dropped", "dropped", 1.0, "Malformed frames the worker dropped."),
            ("worker_gaps", "gaps", 1.0, "Messages the worker detected as lost."),
            ("worker_cpu_percent", "cpu_percent", 1.0, "CPU use of the worker's pid, %."),
            ("worker_rss_bytes", "rss_mb", 2.0**20, "Resident memory of the worker's pid."),
        ]
        up = Metric("voicebus_worker_up", "1 when the worker beats and is not down.", "gauge")
        state = Metric("voicebus_worker_state", "1 for the worker's current state.", "gauge")
        for r in rows:
            alive = r["state"] in ("starting", "ready", "stopping")
            up.add_sample("voicebus_worker_up", {"worker": r["name"]}, 1.0 if alive else 0.0)
            for s in STATES:
                state.add_sample(
                    "voicebus_worker_state",
                    {"worker": r["name"], "state": s},
                    1.0 if r["state"] == s else 0.0,
                )
        yield up
        yield state
        for suffix, key, scale, doc in specs:
            name = f"voicebus_{suffix}"
            m = Metric(name, doc, "gauge")
            for r in rows:
                value = r[key]
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    continue
                m.add_sample(name, {"worker": r["name"]}, float(value) * scale)
            yield m

    def _collect_app(self) -> Iterator[Metric]:
        for (family, kind), series in sorted(self._app.items()):
            if kind == "sample":
                m = Metric(family, "sys.metric samples.", "summary")
                last = Metric(f"{family}_last", "Last sys.metric sample.", "gauge")
                for labels, (value, count, total) in series.items():
                    d = dict(labels)
                    m.add_sample(f"{family}_count", d, count)
                    m.add_sample(f"{family}_sum", d, total)
                    last.add_sample(f"{family}_last", d, value)
                yield m
                yield last
            else:
                base = family[: -len("_total")] if family.endswith("_total") else family
                m = Metric(base, f"sys.metric {kind}.", kind)
                sample = f"{base}_total" if kind == "counter" else family
                for labels, (value, _, _) in series.items():
                    m.add_sample(sample, dict(labels), value)
                yield m

    def _collect_turns(self) -> Iterator[Metric]:
        by_stage: dict[str, Metric] = {}
        for (stage, outcome), h in sorted(self._turns.items()):
            name = f"voicebus_turn_{stage}_seconds"
            m = by_stage.get(stage)
            if m is None:
                m = by_stage[stage] = Metric(name, f"Turn latency: {stage}.", "histogram")
            h.add_to(m, name, {"outcome": outcome})
        yield from by_stage.values()

    def _collect_tap(self) -> Iterator[Metric]:
        for key, doc in (
            ("received", "Frames the exporter received."),
            ("lost", "Frames the exporter dropped from its own queue (it was too slow)."),
            ("malformed", "Frames the exporter could not decode."),
        ):
            value = float(getattr(self.tap, key))
            if key == "malformed":
                value += self.tap.refused_version
            m = Metric(f"voicebus_tap_{key}", doc, "counter")
            m.add_sample(f"voicebus_tap_{key}_total", {}, value)
            yield m


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
