"""What the metrics exporter has seen on the bus, rendered as Prometheus metric families.

:class:`BusMetrics` is a ``prometheus_client`` collector: :meth:`BusMetrics.observe` accounts
for each received frame set, :meth:`BusMetrics.collect` renders everything on each scrape. The
histograms are ``prometheus_client.Histogram`` instruments (not registered anywhere: this
collector yields them), the fixed families ``CounterMetricFamily`` / ``GaugeMetricFamily``. Only
``sys.metric`` series are built sample by sample, because one metric name may carry a different
set of labels from each worker, which the fixed-label family classes cannot express. The names
exported are listed in :mod:`bus.taps.metrics`.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bus.framing import Envelope
from bus.taps.observe import BusObserver, ProcessSampler
from bus.taps.tapnode import Received, TapStats
from schemas.dialog import TurnMetrics
from schemas.system import Metric as MetricMsg

__all__ = ["AGE_BUCKETS_S", "STATES", "TURN_BUCKETS_S", "BusMetrics"]

#: Buckets of message age, s.
AGE_BUCKETS_S = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.05, 0.1, 0.25, 1.0)
#: Buckets of turn stage latency, s.
TURN_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.5,
    2.0, 3.0, 5.0, 10.0, 30.0,
)  # fmt: skip
#: Worker states exported as ``worker_state{state=...}``.
STATES = ("starting", "ready", "stopping", "silent", "exited", "hung", "restarting", "gave_up")
_TURN_STAGES = [
    name
    for name, f in TurnMetrics.model_fields.items()
    if name.endswith("_ms") and f.annotation is float  # bus_detail_ms is a map: not a stage
]
_BAD_NAME = re.compile(r"[^a-zA-Z0-9_]")

#: (name, kind, row key, help) of the per-topic families.
_TOPIC_FAMILIES = (
    ("topic_messages_total", "counter", "messages", "Messages received per topic."),
    ("topic_bytes_total", "counter", "bytes", "Bytes (all frames) per topic."),
    ("topic_gaps_total", "counter", "gaps", "Messages the exporter missed (seq gaps)."),
    ("topic_malformed_total", "counter", "malformed", "Undecodable frames per topic."),
    ("topic_rate_messages_per_second", "gauge", "msgs_per_s", "Messages/s (window)."),
    ("topic_rate_bytes_per_second", "gauge", "bytes_per_s", "Bytes/s (window)."),
)
#: (name, row key, scale to the exported unit, help) of the per-worker gauges.
_WORKER_GAUGES = (
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
)


def _name(text: str) -> str:
    clean = _BAD_NAME.sub("_", text)
    return clean if clean and not clean[0].isdigit() else f"_{clean}"


class BusMetrics(Collector):
    """Accumulates what the exporter sees; a Prometheus collector rendering it on scrape."""

    def __init__(self, window_s: float = 10.0, sampler: ProcessSampler | None = None) -> None:
        self.lock = threading.Lock()
        self.observer = BusObserver(window_s)
        self.sampler = sampler
        self.tap = TapStats()
        self._ages = Histogram(
            "voicebus_topic_age_seconds",
            "Age of messages when received.",
            ["topic"],
            buckets=AGE_BUCKETS_S,
            registry=None,
        )
        self._turns: dict[str, Histogram] = {}
        self._speculative = Counter(
            "voicebus_turn_speculative",
            "Turns whose transcript was the pause's speculative one (no recognition after close).",
            ["outcome"],
            registry=None,
        )
        # (family, kind) -> {(worker, labels...): [value, count, sum]}
        self._app: dict[tuple[str, str], dict[tuple[tuple[str, str], ...], list[float]]] = {}

    def observe(self, item: Received, msg: Envelope | Exception, gap: int = 0) -> None:
        """Account for one received frame set."""
        with self.lock:
            self.observer.observe(item, msg, gap)
            if isinstance(msg, Exception):
                return
            self._ages.labels(msg.topic).observe(max(0.0, (item.recv_ns - msg.ts_ns) / 1e9))
            if isinstance(msg.payload, MetricMsg):
                self._app_metric(msg.payload)
            elif isinstance(msg.payload, TurnMetrics):
                self._turn(msg.payload)

    def _turn(self, t: TurnMetrics) -> None:
        if t.speculative:
            self._speculative.labels(t.outcome).inc()
        for stage in _TURN_STAGES:
            value_ms = getattr(t, stage)
            if value_ms <= 0:
                continue  # 0 = stage not measured in this turn
            name = stage[: -len("_ms")]
            h = self._turns.get(name)
            if h is None:
                h = self._turns[name] = Histogram(
                    f"voicebus_turn_{name}_seconds",
                    f"Turn latency: {name}.",
                    ["outcome"],
                    buckets=TURN_BUCKETS_S,
                    registry=None,
                )
            h.labels(t.outcome).observe(value_ms / 1000.0)

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
            for _, h in sorted(self._turns.items()):
                yield from h.collect()
            yield from self._speculative.collect()
            yield from self._collect_tap()

    def _collect_topics(self) -> Iterator[Metric]:
        rows = self.observer.topic_rows()
        for suffix, kind, key, doc in _TOPIC_FAMILIES:
            family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            m = family(f"voicebus_{suffix}", doc, labels=["topic"])
            for r in rows:
                m.add_metric([r["topic"]], float(r[key]))
            yield m
        yield from self._ages.collect()

    def _collect_workers(self) -> Iterator[Metric]:
        rows = self.observer.worker_rows(self.sampler)
        up = GaugeMetricFamily(
            "voicebus_worker_up", "1 when the worker beats and is not down.", labels=["worker"]
        )
        state = GaugeMetricFamily(
            "voicebus_worker_state", "1 for the worker's current state.", labels=["worker", "state"]
        )
        for r in rows:
            alive = r["state"] in ("starting", "ready", "stopping")
            up.add_metric([r["name"]], 1.0 if alive else 0.0)
            for s in STATES:
                state.add_metric([r["name"], s], 1.0 if r["state"] == s else 0.0)
        yield up
        yield state
        for suffix, key, scale, doc in _WORKER_GAUGES:
            m = GaugeMetricFamily(f"voicebus_{suffix}", doc, labels=["worker"])
            for r in rows:
                value = r[key]
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    continue
                m.add_metric([r["name"]], float(value) * scale)
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

    def _collect_tap(self) -> Iterator[Metric]:
        for key, doc in (
            ("received", "Frames the exporter received."),
            ("lost", "Frames the exporter dropped from its own queue (it was too slow)."),
            ("malformed", "Frames the exporter could not decode."),
        ):
            value = float(getattr(self.tap, key))
            if key == "malformed":
                value += self.tap.refused_version
            yield CounterMetricFamily(f"voicebus_tap_{key}_total", doc, value=value)
