"""Bus benchmark: one hop's latency and throughput, voicebus beside raw pyzmq and dora-rs.

    python -m bench.bus            # full measurement, JSON + PNG + Markdown in bench/results/
    python -m bench.bus --quick    # a short run (< 30 s), JSON only

Systems, measured in the same run on this machine, publisher and subscriber in separate
processes:

- ``pyzmq-raw``: pyzmq PUB -> the voicebus proxy (``python -m bus.proxy``, ipc://) -> SUB, frames
  ``[topic, 16-byte header, payload]``, no envelope, no schema;
- ``voicebus``: ``bus.Node`` publishing ``audio.frame`` models (pydantic, msgpack envelope, the
  payload in the raw frame) through the same proxy, decoded and validated by a ``bus.Node``;
- ``voicebus+2taps``: the same while ``python -m bus.taps.tap '*'`` (printing to /dev/null) and
  ``python -m bus.taps.metrics`` are attached to the bus;
- ``pyzmq-direct`` (full run only): raw pyzmq straight from PUB to SUB, no proxy: the floor
  of one ipc hop, to show what the proxy's second hop costs;
- ``dora-rs``: two dora-rs Python nodes (``dora run``; pyarrow arrays, the timestamp in the
  metadata), when ``dora-rs`` and ``dora-rs-cli`` are installed.

Latency is measured at a steady rate (one message per ``lat_interval_s``) from a monotonic
timestamp taken before the message is built to the moment the subscriber has it decoded, so it
includes building, encoding, both hops through the proxy and decoding; p50/p99/p999 in us.
Throughput (msgs_per_s) is a burst sent as fast as possible: messages received / (last
receive - first send). ``lost`` counts burst messages that never arrived (pub/sub drops at the
high-water mark rather than block).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["FULL", "QUICK", "main"]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
SIZES = (64, 640, 65536, 1048576)

#: (size, latency messages, interval s, burst messages)
QUICK = [(64, 200, 0.001, 2000), (640, 200, 0.001, 2000), (65536, 100, 0.002, 200),
         (1048576, 30, 0.01, 20)]  # fmt: skip
FULL = [(64, 5000, 0.001, 30000), (640, 5000, 0.001, 30000), (65536, 2000, 0.002, 3000),
        (1048576, 1000, 0.005, 300)]  # fmt: skip
SYSTEMS = ("pyzmq-raw", "voicebus", "voicebus+2taps", "dora-rs", "pyzmq-direct")
#: The systems of a quick run (pyzmq-direct, the proxy-less floor, only in the full run).
QUICK_SYSTEMS = SYSTEMS[:4]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[max(0, min(len(v) - 1, math.ceil(q * len(v)) - 1))]


class Bench:
    """One run: a proxy process, then each system in turn."""

    def __init__(self, plan: list[tuple[int, int, float, int]], workdir: Path, quick: bool):
        self.plan = [
            {"size": s, "lat_n": n, "lat_interval_s": i, "burst_n": b} for s, n, i, b in plan
        ]
        self.dir = workdir
        self.quick = quick
        self.pub_ep = f"ipc://{workdir}/pub"
        self.sub_ep = f"ipc://{workdir}/sub"
        self.env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proxy: subprocess.Popen[bytes] | None = None
        self.notes: list[str] = []
        self.tap_report: list[str] = []
        self.dora_note = ""

    # --- processes -----------------------------------------------------------------------

    def start_proxy(self) -> None:
        self.proxy = subprocess.Popen(
            [sys.executable, "-m", "bus.proxy", "--xsub", self.pub_ep, "--xpub", self.sub_ep],
            env=self.env,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: (self.dir / "sub").exists(), 10.0, "the proxy did not start")

    def stop_proxy(self) -> None:
        if self.proxy is not None:
            self.proxy.terminate()
            self.proxy.wait(timeout=10)

    def _spec(self, name: str, *, direct: bool = False) -> tuple[Path, dict[str, Any]]:
        ctl = self.dir / name
        ctl.mkdir()
        spec = {
            "plan": self.plan,
            "ctl": str(ctl),
            "out": str(ctl / "result.json"),
            "pub_endpoint": self.pub_ep,
            "sub_endpoint": self.sub_ep,
            "run_timeout_s": 60.0 if self.quick else 300.0,
            "phase_timeout_s": 5.0 if self.quick else 20.0,
            "direct_endpoint": f"ipc://{ctl}/direct" if direct else "",
        }
        path = ctl / "spec.json"
        path.write_text(json.dumps(spec))
        return path, spec

    def run_pair(self, name: str, role: str, *, direct: bool = False) -> dict[str, Any] | None:
        """Run ``<role>-sub`` and ``<role>-pub``; the subscriber's measurements."""
        path, spec = self._spec(name, direct=direct)
        cmd = [sys.executable, "-m", "bench.busnodes"]
        # both start at once: the publisher sends warm-up messages until the subscriber has one
        sub = subprocess.Popen([*cmd, f"{role}-sub", str(path)], env=self.env)
        pub = subprocess.Popen([*cmd, f"{role}-pub", str(path)], env=self.env)
        try:
            pub.wait(timeout=spec["run_timeout_s"])
            sub.wait(timeout=10)
        finally:
            for p in (pub, sub):
                if p.poll() is None:
                    p.kill()
                    p.wait()
        out = Path(spec["out"])
        return json.loads(out.read_text()) if out.exists() else None

    def run_dora(self, tag: str) -> dict[str, Any] | None:
        """Run the dora-rs pair under ``dora run``; ``None`` (and a note) if impossible."""
        dora = shutil.which("dora", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        probe = subprocess.run(
            [sys.executable, "-c", "import dora, pyarrow"], capture_output=True, env=self.env
        )
        if dora is None or probe.returncode != 0:
            self.notes.append(
                "dora-rs: not measured: "
                + ("the dora CLI (dora-rs-cli) is not installed" if dora is None else "")
                + (" and " if dora is None and probe.returncode != 0 else "")
                + ("the dora-rs Python package is not importable" if probe.returncode else "")
                + "; install both with '.venv/bin/pip install dora-rs dora-rs-cli'."
            )
            return None
        path, spec = self._spec(tag)
        flow = Path(spec["ctl"]) / "dataflow.yml"
        node = {"path": sys.executable, "env": {"PYTHONPATH": str(REPO)}}
        flow.write_text(
            json.dumps(  # JSON is YAML
                {
                    "nodes": [
                        {**node, "id": "pub", "args": f"-m bench.busnodes dora-pub {path}",
                         "outputs": ["data"]},
                        {**node, "id": "sub", "args": f"-m bench.busnodes dora-sub {path}",
                         "inputs": {"data": {"source": "pub/data", "queue_size": 100000}}},
                    ]
                }
            )
        )  # fmt: skip
        log = Path(spec["ctl"]) / "dora.log"
        with open(log, "wb") as logf:
            proc = subprocess.Popen(
                [dora, "run", str(flow)],
                cwd=spec["ctl"],
                env=self.env,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                proc.wait(timeout=spec["run_timeout_s"] + 30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        out = Path(spec["out"])
        if not out.exists():
            tail = log.read_text(errors="replace")[-400:].strip().replace("\n", " | ")
            self.notes.append(f"dora-rs: the dataflow produced no result (log tail: {tail})")
            return None
        discarded = log.read_text(errors="replace").count("Discarding event")
        if discarded:
            self.notes.append(
                f"dora-rs ({tag}): its input queue discarded events {discarded} times "
                "('Discarding event ... due to queue size limit' in the dora log)"
            )
        return json.loads(out.read_text())

    def measure(self, system: str, rnd: int) -> dict[str, Any] | None:
        """One round of one system."""
        tag = f"{system.replace('+', '-')}-{rnd}"
        if system == "pyzmq-raw":
            return self.run_pair(tag, "zmq")
        if system == "pyzmq-direct":
            return self.run_pair(tag, "zmq", direct=True)
        if system == "voicebus":
            return self.run_pair(tag, "voicebus")
        if system == "voicebus+2taps":
            taps = self.start_taps()
            try:
                return self.run_pair(tag, "voicebus")
            finally:
                self.stop_taps(taps)
        if self.dora_note:  # not installed, or failed in an earlier round
            return None
        result = self.run_dora(tag)
        if result is None:
            self.dora_note = self.notes[-1]
        return result

    def start_taps(self) -> list[subprocess.Popen[bytes]]:
        """``bus.taps.tap '*'`` to /dev/null and ``bus.taps.metrics --port 0``, both connected."""
        env = {
            **self.env,
            "VOICEBUS_NODE": json.dumps(
                {"name": "tap", "pub_endpoint": self.pub_ep, "sub_endpoint": self.sub_ep}
            ),
        }
        taps, errs = [], []
        for i, cmd in enumerate((["bus.taps.tap", "*"], ["bus.taps.metrics", "--port", "0"])):
            err = self.dir / f"tap{i}.err"
            errs.append(err)
            taps.append(
                subprocess.Popen(
                    [sys.executable, "-m", *cmd, "--name", f"benchtap{i}"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=open(err, "wb"),  # noqa: SIM115 (closed with the process)
                )
            )
        for err in errs:  # each prints a '# ...' line on stderr once connected
            _wait_for(lambda e=err: b"# " in e.read_bytes(), 20.0, f"tap {err.name}")
        return taps

    def stop_taps(self, taps: list[subprocess.Popen[bytes]]) -> None:
        for i, t in enumerate(taps):
            t.send_signal(signal.SIGINT)
            t.wait(timeout=10)
            lines = (self.dir / f"tap{i}.err").read_text(errors="replace").splitlines()
            self.tap_report += [line.lstrip("# ") for line in lines if "lost" in line]


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
        }
        if note:
            row["note"] = note
        rows.append(row)
    return rows


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def _wait_for(cond: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench.bus: timed out waiting for {what}.")
        time.sleep(0.01)


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
    """The targets of ARCHITECTURE.md, met or not."""
    lines = []
    by = {(r["system"], r["payload_bytes"]): r for r in rows}
    for size in (64, 640):
        r = by.get(("voicebus", size))
        if r and r["p50_us"] is not None:
            ok = r["p50_us"] <= 100 and r["p99_us"] <= 1000
            lines.append(
                f"voicebus {size} B: p50 {r['p50_us']} us (target <= 100), p99 {r['p99_us']} us "
                f"(target <= 1000): {'met' if ok else 'NOT met'}"
            )
    vb, raw = by.get(("voicebus", 640)), by.get(("pyzmq-raw", 640))
    if vb and raw and vb["p50_us"] and raw["p50_us"]:
        ratio = vb["p50_us"] / raw["p50_us"]
        lines.append(
            f"envelope+schema overhead on 640 B audio frames: p50 {ratio:.2f}x raw pyzmq "
            f"(target < 1.5x): {'met' if ratio < 1.5 else 'NOT met'}"
        )
        if vb["msgs_per_s"] and raw["msgs_per_s"]:
            lines.append(
                f"throughput on 640 B: voicebus {vb['msgs_per_s']:,.0f} msgs/s = "
                f"{raw['msgs_per_s'] / vb['msgs_per_s']:.1f}x fewer than raw pyzmq"
            )
    raw_d = by.get(("pyzmq-direct", 640))
    if raw and raw_d and raw["p50_us"] and raw_d["p50_us"]:
        lines.append(
            f"the proxy's extra hop (640 B): pyzmq through the proxy p50 {raw['p50_us']} us vs "
            f"straight PUB -> SUB {raw_d['p50_us']} us (+{raw['p50_us'] - raw_d['p50_us']:.0f} us)"
        )
    dora = by.get(("dora-rs", 640))
    if vb and dora and vb["p50_us"] and dora["p50_us"]:
        lines.append(
            f"voicebus vs dora-rs (640 B): p50 {vb['p50_us']} vs {dora['p50_us']} us, "
            f"p99 {vb['p99_us']} vs {dora['p99_us']} us, "
            f"{vb['msgs_per_s'] or 0:,.0f} vs {dora['msgs_per_s'] or 0:,.0f} msgs/s"
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
        ax1.plot(x, [r["p99_us"] for r in rs], marker="x", ls="--", color=line.get_color(),
                 label=f"{system} p99")  # fmt: skip
        tr = [r for r in rs if r["msgs_per_s"]]
        ax2.plot([r["payload_bytes"] for r in tr], [r["msgs_per_s"] for r in tr], marker="o",
                 label=system)  # fmt: skip
    ax1.axhline(100, color="grey", lw=0.8, ls=":")
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


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bus",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short run, JSON only (< 30 s)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="measure every system this many times, interleaved, and pool the rounds "
        "(default 1 with --quick, 2 otherwise: load from other work then hits all alike)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--systems",
        default="",
        help=f"comma-separated subset of {SYSTEMS} (default: all; the first four with --quick)",
    )
    args = parser.parse_args(argv)
    systems = [s for s in args.systems.split(",") if s] or list(
        QUICK_SYSTEMS if args.quick else SYSTEMS
    )
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; choose from {SYSTEMS}.")
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    results: dict[str, list[dict[str, Any] | None]] = {}
    with tempfile.TemporaryDirectory(prefix="vbbench") as tmp:
        bench = Bench(QUICK if args.quick else FULL, Path(tmp), args.quick)
        bench.start_proxy()
        try:
            for rnd in range(args.rounds):
                for system in systems:
                    t0 = time.monotonic()
                    results.setdefault(system, []).append(bench.measure(system, rnd))
                    print(
                        f"bench.bus: {system} (round {rnd + 1}/{args.rounds}) measured in "
                        f"{time.monotonic() - t0:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
            for system in systems:
                note = bench.dora_note if system == "dora-rs" else ""
                rows += rows_for(system, results[system], bench.plan, note)
        finally:
            bench.stop_proxy()
    elapsed = time.monotonic() - started
    load = os.getloadavg()
    busy = max(load_before[0], load[0]) > 0.5 * (os.cpu_count() or 1)
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, load average {load_before[0]:.1f} "
        f"before / {load[0]:.1f} after"
        + (" (a busy machine shared with other work: figures are pessimistic)" if busy else "")
    )
    (args.out / "bus.json").write_text(json.dumps(rows, indent=1) + "\n")
    text = [
        f"# bench.bus ({'quick' if args.quick else 'full'} run, {elapsed:.0f} s)",
        "",
        f"Machine: {machine}.",
        "",
        table(rows),
        "",
        *[f"- {line}" for line in verdict(rows)],
        *[f"- {line}" for line in codec_cost(2000 if args.quick else 20000)],
        *[f"- {n}" for n in bench.notes],
        *[f"- attached tap's own summary: {t}" for t in bench.tap_report],
    ]
    print("\n".join(text))
    if not args.quick:
        (args.out / "bus.md").write_text("\n".join(text) + "\n")
        plot(rows, args.out / "bus.png", machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
