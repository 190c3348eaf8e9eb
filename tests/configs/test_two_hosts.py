"""The two-board split for real: two network namespaces, a veth cable, tcp with CURVE.

Board A (``configs/two-boards.yaml``: VAD, dialog, LLM, TTS, speaker, car, and the bus proxy
listening on the network) runs in one namespace, board B (``configs/two-boards-asr.yaml``: the
ASR, joining A's bus) in another; the only path between them is a veth pair. The shipped
configs name board-only backends, so the test derives their host variants (:func:`host_board_a`,
:func:`host_board_b`): the same workers, bus section and dialog settings, with the backends of
``configs/host.yaml`` (Whisper tiny.en for SenseVoice on the NPU, SmolLM2 on llama.cpp for
rkllm, WAV files for the sound card, the RT app as a process on a /dev/shm region for the UIO
device), no SCHED_FIFO, and the demo's scripted microphone (:mod:`tests.configs.netns_agent`)
in A's namespace instead of ``mic``. Keys are made as ``docs/deploy.md`` says, with
``python -m bus.curve keygen``.

What it shows: a spoken line injected on A is recognised on B and answered on A, the reply
observed from B; a client with a key A does not admit is refused at the handshake (and one with
B's admitted key is not); after a cable pull (the veth down, then up) the next line is answered,
for a short pull (longer than B's heartbeat timeout) and a long one (longer than B's restart
window).
Needs root (namespaces) and ``ip``; skipped with the reason otherwise. Namespaces, processes and
the region are removed even when the test fails.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from supervision.control import ControlClient
from tests.configs.netns_agent import EAR_TOPICS

ROOT = Path(__file__).resolve().parents[2]
A_ADDR, B_ADDR = "10.231.15.1", "10.231.15.2"
#: Cable pulls, s: longer than the ASR's heartbeat timeout on board B (3 s), then longer than
#: its restart window (60 s: five restarts in it and the supervisor gives up).
CABLE_PULLS_S = (5.0, 75.0)

pytestmark = pytest.mark.slow


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create network namespaces (ip netns add)"
    if shutil.which("ip") is None:
        return "needs the 'ip' command (Debian: iproute2)"
    if shutil.which("espeak-ng") is None:
        return "needs espeak-ng to speak the lines"
    if not (ROOT / "rtos/build/rtapp").is_file():
        return "needs rtos/build/rtapp (make -C rtos)"
    return None


def host_board_a(shipped: dict[str, Any], keys: Path, region: str, out: Path) -> dict[str, Any]:
    """``two-boards.yaml`` with host backends; the mic is the test's own speaker of lines."""
    cfg = copy.deepcopy(shipped)
    cfg["bus"]["curve"] = {k: str(keys.parent / v) for k, v in cfg["bus"]["curve"].items()}
    w = cfg["workers"]
    del w["mic"]
    w["rtapp"] = {
        "command": "rtos/build/rtapp",
        "args": ["--region", region, "--telemetry-ms", "200"],
        "manifest": {"kind": "stage", "summary": "The RT-Thread car app as a process.",
                     "link": "rtgw"},
        "cpus": "little",
        "restart": "always",
    }  # fmt: skip
    w["rtgw"].update(depends_on=["rtapp"], settings={"region": f"shmfile:{region}"})
    w["speaker"]["settings"] = {"backend": "wav", "sample_rate_hz": 48000, "out_dir": str(out)}
    w["llm"]["settings"] = {"backend": "llamacpp", "llamacpp": {"n_threads": 1}}
    w["llm"]["ready_timeout_s"] = 120
    # A loaded 2-core host is slower than the board (configs/host.yaml's values).
    w["dialog"]["settings"].update(asr_timeout_s=30, llm_first_token_timeout_s=60)
    for spec in w.values():
        spec.pop("sched_fifo", None)
    # The test's own clients on this bus (tests/configs/netns_agent.py), for the dataflow check.
    cfg["external"] = {
        "mouth": {"kind": "source", "summary": "The test's spoken lines (netns_agent mouth).",
                  "produces": ["audio.frame"]},
        "ear": {"kind": "sink", "summary": "What the test sees (netns_agent ear).",
                "consumes": list(EAR_TOPICS)},
    }  # fmt: skip
    return cfg


def host_board_b(shipped: dict[str, Any], keys: Path, a_addr: str) -> dict[str, Any]:
    """``two-boards-asr.yaml`` with Whisper on the CPU for SenseVoice on the NPU."""
    cfg = copy.deepcopy(shipped)
    cfg["bus"]["connect_host"] = a_addr
    cfg["bus"]["curve"] = {k: str(keys.parent / v) for k, v in cfg["bus"]["curve"].items()}
    asr = cfg["workers"]["asr"]
    asr["settings"] = {"backend": "whisper", "language": "en",
                       "whisper": {"model": "tiny.en", "threads": 2}}  # fmt: skip
    asr["ready_timeout_s"] = 120
    return cfg


def keygen(directory: Path, name: str) -> None:
    """``python -m bus.curve keygen DIR NAME``, as docs/deploy.md says."""
    subprocess.run([sys.executable, "-m", "bus.curve", "keygen", str(directory), name],
                   cwd=ROOT, check=True, capture_output=True)  # fmt: skip


class Lines:
    """JSON lines of a child's stdout, read by a thread and kept (waits scan them all)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.items: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):
                with self._cond:
                    self.items.append(json.loads(line))
                    self._cond.notify_all()

    def wait(self, pred: Any, timeout_s: float, what: str) -> dict[str, Any]:
        """The first item, seen so far or to come, for which ``pred`` is true."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        with self._cond:
            while True:
                for item in self.items[seen:]:
                    if pred(item):
                        return item
                seen = len(self.items)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
                self._cond.wait(min(left, 0.5))


class TwoHosts:
    """Two namespaces joined by a veth pair; the processes started in them."""

    def __init__(self, tmp: Path) -> None:
        tag = f"{os.getpid() % 100000}"
        self.ns = {"a": f"vb15a-{tag}", "b": f"vb15b-{tag}"}
        self.veth = {"a": f"vb15a{tag}", "b": f"vb15b{tag}"}
        self.tmp = tmp
        self.region = f"/dev/shm/voicebus-2hosts-{tag}"
        self.procs: list[subprocess.Popen[Any]] = []

    def ip(self, *args: str) -> None:
        res = subprocess.run(["ip", *args], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {res.stderr.strip()}")

    def create(self) -> None:
        for side in "ab":
            self.ip("netns", "add", self.ns[side])
            self.ip("-n", self.ns[side], "link", "set", "lo", "up")
        self.ip("link", "add", self.veth["a"], "type", "veth", "peer", "name", self.veth["b"])
        for side, addr in (("a", A_ADDR), ("b", B_ADDR)):
            self.ip("link", "set", self.veth[side], "netns", self.ns[side])
            self.ip("-n", self.ns[side], "addr", "add", f"{addr}/24", "dev", self.veth[side])
            self.ip("-n", self.ns[side], "link", "set", self.veth[side], "up")

    def cable(self, up: bool) -> None:
        self.ip("-n", self.ns["a"], "link", "set", self.veth["a"], "up" if up else "down")

    def start(self, side: str, argv: list[str], run_dir: Path, log: Path | None = None,
              stdin: bool = False) -> subprocess.Popen[str]:  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBUS_")}
        env.update(VOICEBUS_RUNTIME_DIR=str(run_dir), PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns[side], *argv], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=log.open("w") if log else subprocess.PIPE,
            stderr=subprocess.STDOUT if log else subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def destroy(self) -> None:
        """Stop what we started (supervisors gracefully), then whatever is left in the
        namespaces (by pid), then the namespaces and the region."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for ns in self.ns.values():
            res = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in res.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        Path(self.region).unlink(missing_ok=True)


def _ready(run_dir: Path, names: set[str], timeout_s: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    rows: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        if (run_dir / "control").exists():
            rows = _status(run_dir)
            if names <= {n for n, r in rows.items() if r["state"] == "ready"}:
                return rows
        time.sleep(0.5)
    raise AssertionError(f"not ready within {timeout_s:.0f} s: {rows}")


def _status(run_dir: Path) -> dict[str, dict[str, Any]]:
    rows = ControlClient(run_dir, timeout_s=10.0).call("status")["workers"]
    return {r["name"]: r for r in rows}


def _asr_back(run_dir: Path, timeout_s: float) -> dict[str, Any]:
    """B's asr row once it is ready again, or given up on, or at the timeout."""
    deadline = time.monotonic() + timeout_s
    row = _status(run_dir)["asr"]
    while row["state"] not in ("ready", "failed", "exited") and time.monotonic() < deadline:
        time.sleep(0.5)
        row = _status(run_dir)["asr"]
    return row


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[TwoHosts]:
    why = _why_not()
    if why:
        pytest.skip(why)
    th = TwoHosts(tmp_path)
    try:
        th.create()
    except RuntimeError as exc:
        th.destroy()
        pytest.skip(f"cannot create network namespaces here: {exc}")
    try:
        yield th
    finally:
        th.destroy()


def _make_keys(a: Path, b: Path) -> None:
    """docs/deploy.md, section 6: the keys of both boards and the copies between them."""
    keygen(a / "keys", "bus")
    keygen(a / "keys/clients", "board-a")
    keygen(b / "keys", "board-b")
    keygen(b / "keys", "local-bus")
    shutil.copy(b / "keys/board-b.key", a / "keys/clients/")
    shutil.copy(a / "keys/bus.key", b / "keys/")
    (b / "keys/clients").mkdir()
    shutil.copy(b / "keys/board-b.key", b / "keys/clients/")  # B admits itself on its local proxy


def _answered(ear: Lines, mouth: subprocess.Popen[str], text: str) -> dict[str, Any]:
    """Say ``text`` on A; from B, see it recognised (by B's ASR) and the reply played (on A)."""
    assert mouth.stdin is not None
    t_say = time.monotonic()  # one monotonic clock: network namespaces do not change it
    mouth.stdin.write(text + "\n")
    mouth.stdin.flush()
    heard = ear.wait(
        lambda m: m.get("topic") == "asr.text" and m["t"] > t_say and m["p"]["text"].strip(),
        120,
        f"a transcript of {text!r}",
    )
    seg = heard["p"]["segment_id"]
    played = ear.wait(
        lambda m: m.get("topic") == "speaker.report" and m["p"]["turn_id"] == seg, 120,
        f"the reply to {heard['p']['text']!r} at the speaker",
    )  # fmt: skip
    turn = ear.wait(lambda m: m.get("topic") == "dialog.turn" and m["p"]["turn_id"] == seg, 120,
                    "the dialog's report of the turn")  # fmt: skip
    return {"heard": heard, "played": played, "turn": turn}


@pytest.mark.timeout(900)
def test_two_boards_over_tcp_curve_answer_refuse_a_stranger_and_survive_a_cable_pull(
    hosts: TwoHosts,
) -> None:
    a, b = hosts.tmp / "a", hosts.tmp / "b"
    a.mkdir()
    b.mkdir()
    _make_keys(a, b)
    shipped_a = yaml.safe_load((ROOT / "configs/two-boards.yaml").read_text())
    shipped_b = yaml.safe_load((ROOT / "configs/two-boards-asr.yaml").read_text())
    (a / "a.yaml").write_text(yaml.safe_dump(host_board_a(shipped_a, a / "keys", hosts.region,
                                                          a / "replies")))  # fmt: skip
    (b / "b.yaml").write_text(yaml.safe_dump(host_board_b(shipped_b, b / "keys", A_ADDR)))
    sup = [sys.executable, str(ROOT / "supervisor.py")]
    hosts.start("a", [*sup, str(a / "a.yaml")], a / "run", log=a / "supervisor.log")
    a_names = set(shipped_a["workers"]) - {"mic"} | {"rtapp"}
    _ready(a / "run", a_names, 240)
    hosts.start("b", [*sup, str(b / "b.yaml")], b / "run", log=b / "supervisor.log")
    _ready(b / "run", {"asr"}, 240)
    agent = [sys.executable, "-m", "tests.configs.netns_agent"]
    ear = Lines(hosts.start("b", [*agent, "ear"], b / "run"))
    ear.wait(lambda m: m.get("ready"), 60, "the ear on B to join A's bus")
    mouth_proc = hosts.start("a", [*agent, "mouth"], a / "run", stdin=True)
    Lines(mouth_proc)  # its stdout is drained; readiness is the ear seeing its audio turn

    # 1. A turn across the two boards: spoken on A, recognised on B, answered on A, seen from B.
    first = _answered(ear, mouth_proc, "Hey robot, what is your name?")
    assert first["heard"]["src"] == "asr"  # the only ASR is B's
    assert first["turn"]["p"]["outcome"] == "answered", first
    assert "robot" in first["heard"]["p"]["text"].lower()

    # 2. A key that A does not admit is refused at the handshake; B's admitted key is not.
    endpoint = f"tcp://{A_ADDR}:{shipped_a['bus']['sub_port']}"
    keygen(b / "stranger", "stranger")
    outcomes = {}
    for who, secret in (("stranger", b / "stranger/stranger.key_secret"),
                        ("board-b", b / "keys/board-b.key_secret")):  # fmt: skip
        res = subprocess.run(
            ["ip", "netns", "exec", hosts.ns["b"], *agent, "stranger", "--secret", str(secret),
             "--server-public", str(b / "keys/bus.key"), "--endpoint", endpoint],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
        outcomes[who] = json.loads(res.stdout.strip().splitlines()[-1])
    assert outcomes["stranger"]["handshake"] == "failed_auth", outcomes
    assert not outcomes["stranger"]["received"]
    assert outcomes["board-b"]["handshake"] == "succeeded", outcomes

    # 3. The cable pulled, then put back: once B's ASR is back, the next line is answered.
    for pull_s in CABLE_PULLS_S:
        before = _status(b / "run")["asr"]["restarts"]
        hosts.cable(up=False)
        time.sleep(pull_s)
        hosts.cable(up=True)
        t_up = time.monotonic()
        ear.wait(
            lambda m, t=t_up: m.get("topic") == "sys.heartbeat" and m["p"]["worker"] == "dialog"
            and m["t"] > t,
            60,
            f"a heartbeat of A's dialog on B after the {pull_s:.0f} s pull",
        )  # fmt: skip
        asr = _asr_back(b / "run", 120)
        print(f"{pull_s:.0f} s cable pull: B's asr {asr['state']} {time.monotonic() - t_up:.1f} s "
              f"after the cable is back, restarts {before} -> {asr['restarts']}")  # fmt: skip
        assert asr["state"] == "ready", (
            f"after a {pull_s:.0f} s cable pull, board B's asr is {asr['state']}: {asr['detail']}"
        )
        again = _answered(ear, mouth_proc, "Hey robot, what is the capital of France?")
        assert again["turn"]["p"]["outcome"] == "answered", (pull_s, again)
