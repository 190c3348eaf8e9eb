"""One bus hop taken apart: where the microseconds of one message go, step by step.

    python -m bench.bushop                       # voicebus and raw pyzmq, 640 B, timestamps
    python -m bench.bushop --size 65536 --n 3000
    python -m bench.bushop --callgrind sub       # instructions per message in one process

A publisher, the real proxy (``python -m bus.proxy``) and a subscriber run as three processes,
one message every ``--interval-ms`` (paced, as audio is). Each step is stamped with
``CLOCK_MONOTONIC`` (the same clock in every process on one machine):

    publisher   t0 before the model is built | t1 built | t2 encoded (``_send`` entered)
                t3 ``send_multipart`` returned
    subscriber  s1 it knew a message was waiting (its wait returned) | s2 frames received
                s3 decoded and accounted (``_accept`` returned) | s4 back in the loop

``t3 -> s1`` is the transport: the publisher's ZeroMQ I/O thread, the ipc socket, the proxy
(its I/O thread, its loop, its I/O thread again), the subscriber's I/O thread and the wake-up of
its thread. Raw pyzmq has t0, t2 (header packed), t3, s1, s2, s4. The table gives the median
and p90 of each step over the messages after the warm-up.

``--shm`` leaves shared memory on (``shm_min_bytes`` = 65536, the bus's default, section 9 of
``docs/protocol.md``): a payload of 64 KiB or more goes through the publisher's ring. Without it
``shm_min_bytes`` is 0 and every payload travels in its frame. Each side
also counts its page faults per message (``getrusage`` minor faults of the whole process between
one message and the next, every thread included): a figure independent of the machine's load.

``--callgrind ROLE`` runs that process (``pub``, ``proxy`` or ``sub``) under valgrind's
callgrind with instrumentation off, turns it on (``callgrind_control -i on``) when the measured
messages begin and dumps the counts when they end: instructions per message, independent of the
machine's load (start-up and warm-up excluded), with the functions that take them. Give a
larger ``--interval-ms`` (20) so that the process under valgrind keeps up. Wall-clock figures
of a loaded machine are noise; instruction counts are not.

(About 490 lines: one program whose publisher, proxy driver, subscriber and callgrind mode
share the stamp layout and the run plan.)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bus.nodeconfig import SHM_MIN_BYTES

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
_HEADER = struct.Struct("<qi")  # raw pyzmq: t0 ns, index
WARMUP = 100
STEPS = {
    "voicebus": [
        ("t0", "t1", "build the model"),
        ("t1", "t2", "encode (publish up to _send)"),
        ("t2", "t3", "send_multipart"),
        ("t3", "s1", "transport (I/O threads, proxy, wake-up)"),
        ("s1", "s2", "recv_multipart"),
        ("s2", "s3", "decode + validate + account"),
        ("s3", "s4", "back to the loop"),
        ("t0", "s4", "whole hop"),
    ],
    "zmq": [
        ("t0", "t2", "pack the header"),
        ("t2", "t3", "send_multipart"),
        ("t3", "s1", "transport (I/O threads, proxy, wake-up)"),
        ("s1", "s2", "recv_multipart"),
        ("s2", "s4", "unpack the header"),
        ("t0", "s4", "whole hop"),
    ],
}


# --- the processes --------------------------------------------------------------------------


class _Profile:
    """cProfile over the measured messages only, when the spec asks for it (``--profile``)."""

    def __init__(self, spec: dict[str, Any], role: str) -> None:
        self.on = spec.get("profile") == role
        self.path = Path(spec["ctl"]) / f"{role}.prof"
        self.prof: Any = None

    def start(self) -> None:
        if self.on and self.prof is None:
            import cProfile

            self.prof = cProfile.Profile()
            self.prof.enable()

    def stop(self) -> None:
        if self.prof is not None:
            self.prof.disable()
            self.prof.dump_stats(self.path)
            self.prof = None


def _faults() -> int:
    """Minor page faults of this process so far (every thread)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _config(spec: dict[str, Any], name: str) -> Any:
    from bus.nodeconfig import NodeConfig

    return NodeConfig(
        name=name,
        pub_endpoint=spec["pub"],
        sub_endpoint=spec["sub"],
        shm_min_bytes=SHM_MIN_BYTES if spec["shm"] else 0,
    )


def _pub(spec: dict[str, Any]) -> None:
    stamps: list[dict[str, int]] = []
    prof = _Profile(spec, "pub")
    payload = bytes(spec["size"])
    if spec["system"] == "zmq":
        import zmq

        ctx = zmq.Context()
        sock = ctx.socket(zmq.PUB)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        sock.connect(spec["pub"])

        def send(i: int) -> dict[str, int]:
            t0 = time.monotonic_ns()
            frames = [b"bench", _HEADER.pack(t0, i), payload]
            t2 = time.monotonic_ns()
            sock.send_multipart(frames, copy=len(payload) < 65536)
            return {"t0": t0, "t2": t2, "t3": time.monotonic_ns()}

        close: Callable[[], None] = ctx.destroy
    else:
        from bus.node import Node
        from schemas.audio import AudioFrame

        node = Node(_config(spec, "hop-pub"), signals=False)
        marks: dict[str, int] = {}
        real_send = node._send

        def traced_send(frames: list[bytes]) -> None:
            marks["t2"] = time.monotonic_ns()
            real_send(frames)
            marks["t3"] = time.monotonic_ns()

        node._send = traced_send  # type: ignore[method-assign]

        def send(i: int) -> dict[str, int]:
            t0 = time.monotonic_ns()
            frame = AudioFrame(pcm=payload, index=max(i, 0), capture_ns=t0, source=str(i))
            t1 = time.monotonic_ns()
            node.publish("audio.frame", frame)
            return {"t0": t0, "t1": t1, **marks}

        close = node.close
    ctl = Path(spec["ctl"])
    i = 0
    while not (ctl / "warm").exists():  # until the subscriber has one
        send(-1)
        time.sleep(0.01)
    interval_s = spec["interval_ms"] / 1000
    due = time.monotonic()
    for i in range(spec["n"]):
        if i == WARMUP:
            (ctl / "measuring").touch()
            _wait_for(ctl / "counting")
            due = time.monotonic()
            prof.start()
        stamps.append({**send(i), "pub_faults": _faults()})
        due += interval_s
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    prof.stop()
    time.sleep(0.3)
    (ctl / "measured").touch()
    _wait_for(ctl / "counted")
    send(-2)
    (ctl / "pub.json").write_text(json.dumps(stamps))
    time.sleep(0.2)
    close()


def _wait_for(path: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench.bushop: timed out waiting for {path.name}.")
        time.sleep(0.005)


def _sub(spec: dict[str, Any]) -> None:
    ctl = Path(spec["ctl"])
    prof = _Profile(spec, "sub")
    stamps: dict[int, dict[str, int]] = {}
    deadline = time.monotonic() + spec["timeout_s"]
    if spec["system"] == "zmq":
        import zmq

        ctx = zmq.Context()
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.RCVHWM, 100_000)
        sock.connect(spec["sub"])
        sock.setsockopt(zmq.SUBSCRIBE, b"bench")
        while time.monotonic() < deadline:
            if not sock.poll(50):
                continue
            s1 = time.monotonic_ns()
            frames = sock.recv_multipart()
            s2 = time.monotonic_ns()
            _t0, i = _HEADER.unpack(frames[1])
            s4 = time.monotonic_ns()
            if i == -2:
                break
            if i >= 0:
                stamps[i] = {"s1": s1, "s2": s2, "s4": s4, "sub_faults": _faults()}
                if i == WARMUP - 1:
                    prof.start()
                elif i == spec["n"] - 1:
                    prof.stop()
            elif not stamps:
                (ctl / "warm").touch()
        ctx.destroy()
    else:
        from bus.node import Node

        node = Node(_config(spec, "hop-sub"), signals=False)
        marks: dict[str, int] = {}
        io = node._sub_io
        real_wait, real_recv, real_accept = io.wait, node._recv_nowait, node._accept

        def traced_wait(*args: Any) -> Any:
            r = real_wait(*args)
            if r[0]:
                marks.setdefault("s1", time.monotonic_ns())
            return r

        def traced_recv() -> Any:
            t = time.monotonic_ns()
            r = real_recv()
            if r is not None:
                marks.setdefault("s1", t)
                marks["s2"] = time.monotonic_ns()
            return r

        io.wait = traced_wait  # type: ignore[method-assign,assignment]
        node._recv_nowait = traced_recv  # type: ignore[method-assign]

        def traced_accept(*args: Any) -> Any:
            msg = real_accept(*args)
            marks["s3"] = time.monotonic_ns()
            return msg

        node._accept = traced_accept  # type: ignore[method-assign,assignment]
        node.subscribe("audio.frame")
        if spec.get("in_place", False):
            node.read_in_place("audio.frame")
        while time.monotonic() < deadline:
            marks.clear()
            msg = node.poll(0.05)
            s4 = time.monotonic_ns()
            if msg is None:
                continue
            i = int(msg.payload.source)  # type: ignore[union-attr]
            if i == -2:
                break
            if i >= 0:
                stamps[i] = {**marks, "s4": s4, "sub_faults": _faults()}
                if i == WARMUP - 1:
                    prof.start()
                elif i == spec["n"] - 1:
                    prof.stop()
            elif not stamps:
                (ctl / "warm").touch()
        node.close()
    (ctl / "sub.json").write_text(json.dumps(stamps))


ROLES = {"pub": _pub, "sub": _sub}


# --- the driver -----------------------------------------------------------------------------


def _valgrind(out: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]


def run_hop(
    system: str, args: argparse.Namespace, workdir: Path, n: int, callgrind: str = ""
) -> tuple[list[dict[str, int]], dict[str, dict[str, int]], Path | None]:
    """One run: proxy, subscriber, publisher; the stamps (and the callgrind file, if any)."""
    ctl = workdir / f"{system}-{n}"
    ctl.mkdir()
    spec = {
        "system": system,
        "size": args.size,
        "n": n,
        "interval_ms": args.interval_ms,
        "pub": f"ipc://{ctl}/pub",
        "sub": f"ipc://{ctl}/sub",
        "ctl": str(ctl),
        "timeout_s": 60.0 + n * args.interval_ms / 1000 * (40 if callgrind else 2),
        "profile": args.profile,
        "shm": args.shm,
        "in_place": args.in_place,
    }
    (ctl / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    grind = ctl / "callgrind.out"

    def cmd(role: str, argv: list[str]) -> list[str]:
        return [*_valgrind(grind), *argv] if role == callgrind else argv

    proxy = subprocess.Popen(
        cmd(
            "proxy",
            [sys.executable, "-m", "bus.proxy", "--xsub", spec["pub"], "--xpub", spec["sub"]],
        ),
        env=env,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + (120 if callgrind == "proxy" else 10)
    while not (ctl / "sub").exists():
        if time.monotonic() > deadline:
            raise SystemExit("bench.bushop: the proxy did not start.")
        time.sleep(0.02)
    me = [sys.executable, "-m", "bench.bushop", "--role"]
    sub = subprocess.Popen(cmd("sub", [*me, "sub", str(ctl / "spec.json")]), env=env)
    pub = subprocess.Popen(cmd("pub", [*me, "pub", str(ctl / "spec.json")]), env=env)
    grinding = {"pub": pub, "sub": sub, "proxy": proxy}.get(callgrind)
    try:
        _wait_for(ctl / "measuring", spec["timeout_s"])
        if grinding is not None:
            _control(grinding.pid, "-i", "on")
        (ctl / "counting").touch()
        _wait_for(ctl / "measured", spec["timeout_s"])
        if grinding is not None:
            _control(grinding.pid, "-d")
            _control(grinding.pid, "-i", "off")
        (ctl / "counted").touch()
        pub.wait(timeout=spec["timeout_s"] + 120)
        sub.wait(timeout=spec["timeout_s"] + 120)
    finally:
        proxy.terminate()
        proxy.wait(timeout=60)
        for p in (pub, sub):
            if p.poll() is None:
                p.kill()
    pubs = json.loads((ctl / "pub.json").read_text())
    subs = json.loads((ctl / "sub.json").read_text())
    return pubs, subs, Path(f"{grind}.1") if callgrind else None


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def breakdown(
    system: str, pubs: list[dict[str, int]], subs: dict[str, dict[str, int]]
) -> list[dict[str, Any]]:
    """Median and p90 of each step (us) over the messages after the warm-up."""
    rows = []
    joined = [{**p, **subs[str(i)]} for i, p in enumerate(pubs) if i >= WARMUP and str(i) in subs]
    for a, b, what in STEPS[system]:
        d = np.array([(m[b] - m[a]) / 1e3 for m in joined if a in m and b in m])
        rows.append(
            {
                "system": system,
                "step": what,
                "from": a,
                "to": b,
                "n": int(d.size),
                "p50_us": round(float(np.median(d)), 1) if d.size else None,
                "p90_us": round(float(np.percentile(d, 90)), 1) if d.size else None,
            }
        )
    return rows


def faults_per_message(
    pubs: list[dict[str, int]], subs: dict[str, dict[str, int]]
) -> dict[str, float]:
    """Mean minor page faults per measured message in each process (whole process, counted
    from the message before it)."""
    out = {}
    for side, got in (
        ("pub", dict(enumerate(pubs))),
        ("sub", {int(k): v for k, v in subs.items()}),
    ):
        d = [
            got[i][f"{side}_faults"] - got[i - 1][f"{side}_faults"]
            for i in got
            if i > WARMUP and i - 1 in got
        ]
        out[side] = round(sum(d) / len(d), 2) if d else float("nan")
    return out


def _callgrind_total(path: Path) -> tuple[int, dict[str, int]]:
    """Total instructions and each function's own (exclusive) count in a callgrind file."""
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", out)
    assert found is not None, out[:500]
    funcs: dict[str, int] = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(\S.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            name = re.sub(r"^.*/", "", m.group(2).split(" [")[0])  # file:function, no path
            lib = re.search(r"\[(.*)\]", m.group(2))
            where = Path(lib.group(1)).name.split(".")[0] if lib else "?"
            key = f"{name} ({where})"
            funcs[key] = funcs.get(key, 0) + int(m.group(1).replace(",", ""))
    return int(found.group(1).replace(",", "")), funcs


def _print_profile(path: Path, n: int, title: str) -> None:
    """Python calls per measured message, with cProfile's own time per call."""
    import pstats

    st = pstats.Stats(str(path))
    print(f"# {title}: Python calls per message (cProfile; its times are inflated)")
    stats: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    rows = [
        (nc / n, tt / nc * 1e6, f"{Path(f).name}:{line}:{name}")
        for (f, line, name), (_cc, nc, tt, _ct, _callers) in stats.items()
        if nc >= n * 0.5
    ]
    for per, own_us, where in sorted(rows, key=lambda r: -r[0] * r[1]):
        print(f"  {per:6.2f} x {own_us:6.2f} us  {where}")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bushop",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--role", nargs=2, metavar=("ROLE", "SPEC"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=640, help="payload bytes (default 640)")
    parser.add_argument("--n", type=int, default=2000, help="messages measured (default 2000)")
    parser.add_argument("--interval-ms", type=float, default=2.0, help="pacing (default 2 ms)")
    parser.add_argument("--systems", default="zmq,voicebus", help="zmq, voicebus or both")
    parser.add_argument(
        "--callgrind",
        choices=("pub", "proxy", "sub"),
        default="",
        help="instructions per message of this process (valgrind)",
    )
    parser.add_argument(
        "--shm",
        action="store_true",
        help=f"voicebus with shared memory on (shm_min_bytes={SHM_MIN_BYTES}; else 0)",
    )
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="with --shm: the subscriber reads shared-memory payloads in place (read_in_place)",
    )
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    parser.add_argument("--keep", type=Path, help="keep the runs' files (callgrind) here")
    parser.add_argument(
        "--profile",
        choices=("pub", "sub"),
        default="",
        help="print the Python calls per message of this process (cProfile, measured messages)",
    )
    args = parser.parse_args(argv)
    if args.role:
        ROLES[args.role[0]](json.loads(Path(args.role[1]).read_text()))
        return 0
    rows: list[dict[str, Any]] = []
    faults: dict[str, dict[str, float]] = {}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="vbhop") as tmp_dir:
        tmp = str(args.keep) if args.keep else tmp_dir
        Path(tmp).mkdir(parents=True, exist_ok=True)
        for system in args.systems.split(","):
            if args.callgrind:
                _, _, grind = run_hop(system, args, Path(tmp), args.n + WARMUP, args.callgrind)
                assert grind is not None
                total, funcs = _callgrind_total(grind)
                per_msg = total / args.n
                print(
                    f"{system} {args.callgrind}: {per_msg:,.0f} instructions per message "
                    f"({args.size} B)"
                )
                diff = {f: x / args.n for f, x in funcs.items()}
                for f, x in sorted(diff.items(), key=lambda kv: -kv[1])[:30]:
                    print(f"  {x:>10,.0f}  {f}")
                rows.append(
                    {
                        "system": system,
                        "process": args.callgrind,
                        "size": args.size,
                        "instructions_per_message": round(per_msg),
                        "functions": {f: round(x) for f, x in diff.items() if x >= 50},
                    }
                )
                continue
            pubs, subs, _ = run_hop(system, args, Path(tmp), args.n + WARMUP)
            rows += breakdown(system, pubs, subs)
            faults[system] = faults_per_message(pubs, subs)
            if args.profile:
                _print_profile(
                    Path(tmp) / f"{system}-{args.n + WARMUP}" / f"{args.profile}.prof",
                    args.n,
                    f"{system} {args.profile}",
                )
    if not args.callgrind:
        print(
            f"# bench.bushop: {args.size} B{' (shared memory on)' if args.shm else ''}, "
            f"one message every {args.interval_ms} ms, "
            f"load average {load:.1f} before / {os.getloadavg()[0]:.1f} after\n"
        )
        print("| system | step | p50 us | p90 us |\n| --- | --- | ---: | ---: |")
        for r in rows:
            print(
                f"| {r['system']} | {r['step']} ({r['from']} -> {r['to']}) | {r['p50_us']} | "
                f"{r['p90_us']} |"
            )
        for system, per in faults.items():
            print(
                f"\n{system}: page faults per message: publisher {per['pub']}, "
                f"subscriber {per['sub']}"
            )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
