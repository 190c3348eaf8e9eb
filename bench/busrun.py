"""The processes of one ``bench.bus`` run: the proxy, each system's publisher and subscriber.

:class:`Bench` starts ``python -m bus.proxy``, then per measurement a ``bench.busnodes`` pair
(pyzmq or voicebus), a dora-rs dataflow under ``dora run``, or two taps beside the voicebus pair;
each subscriber writes its raw measurements as JSON, which :mod:`bench.busreport` pools.
The plan of a run (payload sizes, message counts, systems) is here too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bus.nodeconfig import SHM_MIN_BYTES

__all__ = ["FULL", "QUICK", "QUICK_SYSTEMS", "REPO", "SIZES", "SYSTEMS", "Bench"]

REPO = Path(__file__).resolve().parent.parent
SIZES = (64, 640, 65536, 1048576)

#: (size, latency messages, interval s, burst messages)
QUICK = [(64, 200, 0.001, 2000), (640, 200, 0.001, 2000), (65536, 100, 0.002, 200),
         (1048576, 30, 0.01, 20)]  # fmt: skip
FULL = [(64, 5000, 0.001, 30000), (640, 5000, 0.001, 30000), (65536, 2000, 0.002, 3000),
        (1048576, 1000, 0.005, 300)]  # fmt: skip
SYSTEMS = (
    "pyzmq-raw",
    "voicebus",
    "voicebus+2taps",
    "dora-rs",
    "pyzmq-direct",
    "voicebus-shm",
    "voicebus-frames",
)
#: The systems of a quick run (the full run adds pyzmq-direct, the proxy-less floor,
#: voicebus-shm, voicebus with the subscriber reading shared memory in place, as the asr worker
#: does, and voicebus-frames, voicebus with shared memory off: every payload in its frame, as
#: while a reader that does not read rings is connected).
QUICK_SYSTEMS = SYSTEMS[:4]


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

    def _spec(
        self,
        name: str,
        *,
        direct: bool = False,
        shm: bool | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[Path, dict[str, Any]]:
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
            # shared memory: the bus's default (None), on from SHM_MIN_BYTES (True) or off (False)
            **({} if shm is None else {"shm_min_bytes": SHM_MIN_BYTES if shm else 0}),
            # bus keys for the nodes (shm_ring_bytes, shm_hold_ms: bench.busring) and in_place
            # (the subscriber reads shared-memory payloads in place)
            **(extra or {}),
        }
        path = ctl / "spec.json"
        path.write_text(json.dumps(spec))
        return path, spec

    def run_pair(
        self,
        name: str,
        role: str,
        *,
        direct: bool = False,
        shm: bool | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Run ``<role>-sub`` and ``<role>-pub``; the subscriber's measurements."""
        path, spec = self._spec(name, direct=direct, shm=shm, extra=extra)
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
        held = Path(spec["ctl"]) / "shm_held.json"
        if held.exists():
            self._note_held(name, json.loads(held.read_text()))
        gated = Path(spec["ctl"]) / "shm_gated.json"
        if gated.exists() and (counts := json.loads(gated.read_text())):
            self.notes.append(
                f"{name}: payloads sent in frame 2 because the proxy had not said that every "
                f"reader reads shared memory (sys.bus), per phase: {counts}"
            )
        out = Path(spec["out"])
        return json.loads(out.read_text()) if out.exists() else None

    def _note_held(self, name: str, held: dict[str, int]) -> None:
        """A note of the payloads that went in frame 2 because the ring's next slot was held."""
        parts = []
        for k, item in enumerate(self.plan):
            if item["size"] < SHM_MIN_BYTES:
                continue
            lat, burst = held.get(str(2 * k), 0), held.get(str(2 * k + 1), 0)
            parts.append(
                f"{item['size']} B {lat} of {item['lat_n']} paced, {burst} of {item['burst_n']} "
                "in the burst"
            )
        self.notes.append(
            f"{name}: payloads sent in frame 2 because the ring's next slot was held "
            f"(written less than shm_hold_ms ago, or leased by the reader): {'; '.join(parts)}"
        )

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
        if system == "voicebus-shm":
            return self.run_pair(tag, "voicebus", extra={"in_place": True})
        if system == "voicebus-frames":
            return self.run_pair(tag, "voicebus", shm=False)
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


def _wait_for(cond: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench.bus: timed out waiting for {what}.")
        time.sleep(0.01)
