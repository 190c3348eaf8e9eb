"""What ``bench.bus`` makes of its measurements: rows, the Markdown table, the verdict, a plot.

:func:`rows_for` pools one system's rounds into a row per payload size (latency percentiles by
nearest rank, throughput the mean of the rounds); :func:`verdict` checks the targets of issue 16
(ARCHITECTURE.md's budget: p50 <= 1.1x raw pyzmq and below dora-rs, p99 <= 1 ms);
:func:`codec_cost` times building, encoding and decoding in this process.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.busrun import SIZES, SYSTEMS

__all__ = ["codec_cost", "plot", "rows_for", "table", "verdict"]


def _pct(values: list[float], q: float) -> float | None:
    """The ``q`` quantile by nearest rank (numpy's ``inverted_cdf``); None for no values."""
    return float(np.percentile(values, q * 100, method="inverted_cdf")) if values else None


def rows_for(
    system: str,
    results: list[dict[str, Any] | None],
    plan: list[dict[str, Any]],
    note: str = "",
) -> list[dict[str, Any]]:
    """Result rows of one system: latencies pooled over its rounds, throughput their mean."""
    done = [r for r in results if r]
    rows = []
    for k, item in enumerate(plan):
        lat = [x for r in done for x in r.get("lat_us", {}).get(str(2 * k), [])]
        rates, received = [], 0
        for r in done:
            burst = r.get("burst", {}).get(str(2 * k + 1))
            if burst and burst["n"] > 1:
                received += burst["n"]
                rates.append(
                    burst["n"] / max(1e-9, (burst["last_ns"] - burst["first_sent_ns"]) / 1e9)
                )
        row: dict[str, Any] = {
            "system": system,
            "payload_bytes": item["size"],
            "p50_us": _round(_pct(lat, 0.50)),
            "p99_us": _round(_pct(lat, 0.99)),
            "p999_us": _round(_pct(lat, 0.999)),
            "msgs_per_s": _round(sum(rates) / len(rates)) if rates else None,
            "latency_samples": len(lat),
            "latency_sent": item["lat_n"] * len(results),
            "burst_sent": item["burst_n"] * len(results),
            "burst_lost": item["burst_n"] * len(done) - received if done else None,
            "rounds": len(done),
            # each round's own p50 (None for a failed round), in round order: rounds are
            # interleaved, so round k of two systems ran minutes apart at most
            "round_p50_us": [
                _round(_pct(r.get("lat_us", {}).get(str(2 * k), []), 0.50)) if r else None
                for r in results
            ],
        }
        if note:
            row["note"] = note
        rows.append(row)
    return rows


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""

    def f(x: Any) -> str:
        return "-" if x is None else f"{x:,.1f}" if isinstance(x, float) else str(x)

    out = [
        "| system | payload | p50 us | p99 us | p999 us | msgs/s | burst lost |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        out.append(
            f"| {r['system']} | {r['payload_bytes']} | {f(r['p50_us'])} | {f(r['p99_us'])} | "
            f"{f(r['p999_us'])} | {f(r['msgs_per_s'])} | {f(r['burst_lost'])} |"
        )
    return "\n".join(out)


def verdict(rows: list[dict[str, Any]]) -> list[str]:
    """The targets of issue 16 and ARCHITECTURE.md, met or not, with the figures."""
    lines = []
    by = {(r["system"], r["payload_bytes"]): r for r in rows}

    def p50(system: str, size: int) -> float | None:
        r = by.get((system, size))
        return r["p50_us"] if r else None

    def per_round(system: str, other: str, size: int, factor: float = 1.0) -> str:
        """'; in a of n rounds' where ``system``'s p50 was at most ``factor`` x ``other``'s of
        the same round ('' without per-round figures)."""
        a = (by.get((system, size)) or {}).get("round_p50_us") or []
        b = (by.get((other, size)) or {}).get("round_p50_us") or []
        pairs = [(x, y) for x, y in zip(a, b, strict=False) if x is not None and y is not None]
        if not pairs:
            return ""
        held = sum(x <= factor * y for x, y in pairs)
        return f"; in {held} of {len(pairs)} rounds"

    for size in SIZES:
        vb50, raw50, dora = p50("voicebus", size), p50("pyzmq-raw", size), p50("dora-rs", size)
        if vb50 is None:
            continue
        parts = []
        if raw50 and size <= 640:
            ratio = vb50 / raw50
            parts.append(
                f"{ratio:.2f}x raw pyzmq ({raw50} us; target <= 1.1x: "
                f"{'met' if ratio <= 1.1 else 'NOT met'}"
                f"{per_round('voicebus', 'pyzmq-raw', size, 1.1)})"
            )
        if dora:
            parts.append(
                f"dora-rs {dora} us (target below: {'met' if vb50 < dora else 'NOT met'}"
                f"{per_round('voicebus', 'dora-rs', size)})"
            )
        p99 = by[("voicebus", size)]["p99_us"]
        if size <= 640 and p99 is not None:
            parts.append(f"p99 {p99} us (target <= 1000: {'met' if p99 <= 1000 else 'NOT met'})")
        lines.append(f"voicebus {size} B: p50 {vb50} us; " + "; ".join(parts))
        shm50 = p50("voicebus-shm", size)
        if shm50 is not None and dora and size > 640:
            lines.append(
                f"voicebus-shm {size} B (shared memory read in place, as the asr worker does): "
                f"p50 {shm50} us; dora-rs {dora} us "
                f"(target below: {'met' if shm50 < dora else 'NOT met'}"
                f"{per_round('voicebus-shm', 'dora-rs', size)})"
            )
    vb, raw = by.get(("voicebus", 640)), by.get(("pyzmq-raw", 640))
    if vb and raw and vb["msgs_per_s"] and raw["msgs_per_s"]:
        ratio = vb["msgs_per_s"] / raw["msgs_per_s"]
        lines.append(
            f"throughput on 640 B: voicebus {vb['msgs_per_s']:,.0f} msgs/s = {ratio:.2f}x raw "
            f"pyzmq's {raw['msgs_per_s']:,.0f} (target >= 0.8x: "
            f"{'met' if ratio >= 0.8 else 'NOT met'})"
        )
    raw_d = by.get(("pyzmq-direct", 640))
    if raw and raw_d and raw["p50_us"] and raw_d["p50_us"]:
        lines.append(
            f"the proxy's extra hop (640 B): pyzmq through the proxy p50 {raw['p50_us']} us vs "
            f"straight PUB -> SUB {raw_d['p50_us']} us (+{raw['p50_us'] - raw_d['p50_us']:.0f} us)"
        )
    for size in (65536, 1048576):
        on, off = p50("voicebus", size), p50("voicebus-frames", size)
        in_place = p50("voicebus-shm", size)
        if on and off:
            lines.append(
                f"shared memory at {size} B: p50 {on} us with it (the default, copied out of the "
                f"ring), {off} us without (shm_min_bytes=0: in frames)"
                + (f", {in_place} us read in place" if in_place else "")
            )
    taps = by.get(("voicebus+2taps", 640))
    if vb and taps and vb["p50_us"] and taps["p50_us"]:
        lines.append(
            f"two taps attached (640 B): p50 {vb['p50_us']} -> {taps['p50_us']} us, "
            f"{vb['msgs_per_s'] or 0:,.0f} -> {taps['msgs_per_s'] or 0:,.0f} msgs/s, "
            f"burst lost {taps['burst_lost']} (the taps' own losses are in their summary lines; "
            "on 2 cores they compete with publisher, proxy and subscriber for CPU)"
        )
    for r in rows:
        if r["burst_lost"]:
            lines.append(
                f"{r['system']} {r['payload_bytes']} B: {r['burst_lost']} of {r['burst_sent']} "
                "burst messages never arrived (dropped rather than queued)"
            )
    return lines


def codec_cost(n: int) -> list[str]:
    """CPU per message of building, encoding and decoding, in this process, no sockets."""
    import struct

    from bus.framing import decode, encode
    from schemas.audio import AudioFrame

    lines = []
    header = struct.Struct("<qii")
    for size in (64, 640):
        pcm = bytes(size)
        t0 = time.perf_counter_ns()
        for i in range(n):
            frame = AudioFrame(pcm=pcm, index=i, capture_ns=i, source="0")
        t1 = time.perf_counter_ns()
        for i in range(n):
            frames = encode("audio.frame", frame, source="b", instance=1, seq=i + 1, ts_ns=i)
        t2 = time.perf_counter_ns()
        for _ in range(n):
            decode(frames)
        t3 = time.perf_counter_ns()
        for i in range(n):
            raw = header.pack(i, 0, i)
        for _ in range(n):
            header.unpack(raw)
        t5 = time.perf_counter_ns()
        lines.append(
            f"CPU per {size} B audio.frame, one process, no sockets: build "
            f"{(t1 - t0) / n / 1e3:.1f} us + encode {(t2 - t1) / n / 1e3:.1f} us + decode "
            f"{(t3 - t2) / n / 1e3:.1f} us (raw pyzmq header pack+unpack "
            f"{(t5 - t3) / n / 1e3:.1f} us)"
        )
    return lines


def plot(rows: list[dict[str, Any]], path: Path, subtitle: str) -> None:
    """Latency (p50, p99) and throughput against payload size, one line per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    for system in SYSTEMS:
        rs = [r for r in rows if r["system"] == system and r["p50_us"] is not None]
        if not rs:
            continue
        x = [r["payload_bytes"] for r in rs]
        (line,) = ax1.plot(x, [r["p50_us"] for r in rs], marker="o", label=f"{system} p50")
        ax1.plot(
            x,
            [r["p99_us"] for r in rs],
            marker="x",
            ls="--",
            color=line.get_color(),
            label=f"{system} p99",
        )
        tr = [r for r in rs if r["msgs_per_s"]]
        ax2.plot(
            [r["payload_bytes"] for r in tr],
            [r["msgs_per_s"] for r in tr],
            marker="o",
            label=system,
        )
    ax1.axhline(1000, color="grey", lw=0.8, ls=":")
    for ax, ylabel in ((ax1, "latency, us (log)"), (ax2, "messages/s (log)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(list(SIZES), ["64 B", "640 B", "64 KiB", "1 MiB"])
        ax.set_xlabel("payload")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    ax1.set_title("one hop, publisher -> subscriber")
    ax2.set_title("burst throughput")
    fig.suptitle(f"voicebus bus benchmark ({subtitle})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
