"""``docs/writing-a-worker.md`` is executed, block by block, so the guide cannot rot.

Each fenced block says what the test does with it after its language:

- ``python file=PATH`` / ``yaml file=PATH``: written to PATH (YAML is validated as a supervisor
  config or a worker snippet);
- ``python run``: run as a script in the worker's folder; ``text output``: its expected stdout;
- ``sh run``: run with bash from the repository root, must exit 0;
- ``sh bg``: started in the background (a supervisor, a worker by hand), stopped by ``stop``.

Between blocks, HTML comments ``<!-- check: ... -->`` (invisible on the rendered page) ask the
test to verify what the reader would see: ``bus`` (a supervisor is up), ``shout NAME`` (a
transcript put on the bus comes back in capitals from the worker ``NAME``), ``restarted NAME``
(the supervisor restarted it after it was killed), ``stop`` (every background process ends
cleanly, exit 0, on SIGTERM or by itself).

The guide's paths and addresses are made safe to run here by ``Guide.subs``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from bus import Node, NodeConfig
from bus.nodeconfig import BUS_FILE
from schemas import AsrText

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "writing-a-worker.md"

_BLOCK = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```[ \t]*$|<!-- check: ([^>]*?) -->", re.M | re.S)
_MARKED = {"python", "yaml", "sh"}


@dataclass
class Step:
    """One fenced block or one check comment of the guide."""

    kind: str  # the block's language, or "check"
    marker: str  # "file=PATH", "run", "bg", "output", or the check's words
    text: str
    line: int


def parse(text: str) -> list[Step]:
    """The guide's blocks and checks, in order."""
    steps = []
    for m in _BLOCK.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if m.group(4) is not None:
            steps.append(Step("check", m.group(4).strip(), "", line))
        else:
            steps.append(Step(m.group(1), m.group(2).strip(), m.group(3), line))
    return steps


def test_every_code_block_is_marked_for_the_test() -> None:
    steps = parse(GUIDE.read_text())
    assert len([s for s in steps if s.kind != "check"]) >= 15
    for s in steps:
        if s.kind in _MARKED:
            ok = s.marker == "run" or s.marker.startswith("file=")
            ok = ok or (s.kind == "sh" and s.marker == "bg")
            assert ok, f"line {s.line}: ```{s.kind} block needs 'run', 'bg' or 'file=PATH'"
        elif s.kind == "check":
            words = s.marker.split()
            assert words[0] in ("bus", "shout", "restarted", "stop"), f"line {s.line}: {words}"
        else:
            assert (s.kind, s.marker) == ("text", "output"), f"line {s.line}: unknown block"


def test_the_worker_in_the_guide_is_about_fifteen_lines() -> None:
    (worker,) = [s for s in parse(GUIDE.read_text()) if s.marker.endswith("/shout.py")]
    code = [ln for ln in worker.text.splitlines() if ln.strip() and ln.strip()[0] not in '"#']
    assert len(code) <= 20, code


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Guide:
    """Runs the steps of the guide in a temporary world."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.run_dir = tmp / "run"
        self.subs = {
            "/opt/shout": str(tmp / "opt" / "shout"),
            "/etc/voicebus": str(tmp / "etc" / "voicebus"),
            "192.168.1.10": "127.0.0.1",
            "0.0.0.0": "127.0.0.1",
            "5550": str(_free_port()),
            "5551": str(_free_port()),
        }
        (tmp / "opt" / "shout").mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBUS_")}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = str(ROOT)
        env["VOICEBUS_RUNTIME_DIR"] = str(self.run_dir)
        self.env = env
        self.background: list[tuple[Step, subprocess.Popen[bytes], Path]] = []
        self.last_stdout = ""

    def sub(self, text: str) -> str:
        for old, new in self.subs.items():
            text = text.replace(old, new)
        return text

    def step(self, s: Step) -> None:
        where = f"{GUIDE.name}:{s.line}"
        if s.marker.startswith("file="):
            path = Path(self.sub(s.marker[len("file=") :]))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.sub(s.text))
            if s.kind == "yaml":
                validate_yaml(path, where)
        elif s.kind == "python" and s.marker == "run":
            self.last_stdout = self.sh([sys.executable, "-c", s.text], self.worker_dir, where)
        elif s.kind == "text" and s.marker == "output":
            assert self.last_stdout.strip() == s.text.strip(), where
        elif s.kind == "sh" and s.marker == "run":
            self.sh(["bash", "-euo", "pipefail", "-c", self.sub(s.text)], ROOT, where)
        elif s.kind == "sh" and s.marker == "bg":
            log = self.tmp / f"bg-{s.line}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    ["bash", "-c", self.sub(s.text)],
                    cwd=ROOT,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.background.append((s, proc, log))
        elif s.kind == "check":
            words = s.marker.split()
            getattr(self, f"check_{words[0]}")(*words[1:], where=where)

    @property
    def worker_dir(self) -> Path:
        return Path(self.subs["/opt/shout"])

    def sh(self, argv: list[str], cwd: Path, where: str) -> str:
        done = subprocess.run(
            argv, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (
            f"{where}: exit {done.returncode}\n{done.stdout}\n{done.stderr}\n{self.bg_logs()}"
        )
        return done.stdout

    def bg_logs(self) -> str:
        return "\n".join(
            f"--- background block at line {s.line} ---\n{log.read_text(errors='replace')[-3000:]}"
            for s, _, log in self.background
        )

    def check_bus(self, *, where: str) -> None:
        deadline = time.monotonic() + 60
        while not (self.run_dir / BUS_FILE).is_file() or not (self.run_dir / "control").exists():
            for s, proc, _ in self.background:
                assert proc.poll() is None, (
                    f"{where}: block at line {s.line} ended\n{self.bg_logs()}"
                )
            assert time.monotonic() < deadline, f"{where}: no supervisor came up\n{self.bg_logs()}"
            time.sleep(0.1)

    def check_shout(self, name: str, *, where: str) -> None:
        data: dict[str, Any] = json.loads((self.run_dir / BUS_FILE).read_text())
        config = NodeConfig.parse({**data, "name": f"guide-probe-{uuid.uuid4().hex[:6]}"})
        with Node(config, signals=False) as probe:
            probe.subscribe("ext.shout.text")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                word = uuid.uuid4().hex[:8]
                probe.publish(
                    "asr.text", AsrText(text=f"hello {word}", segment_id=word), trace=word
                )
                end = time.monotonic() + 0.5
                while (msg := probe.poll(max(0.0, end - time.monotonic()))) is not None:
                    assert isinstance(msg.payload, dict)  # this process never registered it
                    if msg.source == name and msg.payload["text"] == f"HELLO {word.upper()}":
                        assert msg.trace == word
                        return
        pytest.fail(f"{where}: worker {name!r} did not shout back\n{self.bg_logs()}")

    def check_restarted(self, name: str, *, where: str) -> None:
        from supervision.control import ControlClient

        client = ControlClient(self.run_dir)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            (row,) = [w for w in client.call("status")["workers"] if w["name"] == name]
            if row["restarts"] >= 1 and row["state"] == "ready":
                assert row["last_exit"] == -signal.SIGKILL, row
                assert os.sched_getaffinity(row["pid"]) == set(row["cpus"]), row  # still pinned
                return
            time.sleep(0.1)
        pytest.fail(f"{where}: {name} was not restarted: {row}\n{self.bg_logs()}")

    def check_stop(self, *, where: str) -> None:
        for s, proc, _ in reversed(self.background):
            if proc.poll() is not None:  # ended by the guide itself (quit)
                assert proc.returncode == 0, f"{where}: line {s.line} exit {proc.returncode}"
                continue
            # SIGTERM the program the block started, as the supervisor or Ctrl-C would: bash
            # itself when it exec'd a lone command, else its children (it then exits with their
            # status).
            shell = psutil.Process(proc.pid)
            targets = shell.children() if shell.name() == "bash" else [shell]
            for target in targets:
                target.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"{where}: block at line {s.line} ignored SIGTERM\n{self.bg_logs()}")
            assert code == 0, f"{where}: block at line {s.line} exit {code}\n{self.bg_logs()}"
        self.background.clear()

    def cleanup(self) -> None:
        for _, proc, _ in self.background:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                for child in psutil.Process(proc.pid).children(recursive=True):
                    child.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


def validate_yaml(path: Path, where: str) -> None:
    """A full supervisor config, or a snippet of workers for ``add``."""
    import yaml

    from supervision.config import SupervisorConfig, parse_config, parse_workers

    data = yaml.safe_load(path.read_text())
    if set(data) <= set(SupervisorConfig.model_fields):
        parse_config(data, where)
    else:
        parse_workers(path.read_text(), set(), 500, where)


def test_the_guide_runs_up_to_the_first_supervisor(tmp_path: Path) -> None:
    # The part without processes (the worker, its in-memory test, the registry): fast, always.
    guide = Guide(tmp_path)
    steps = parse(GUIDE.read_text())
    first_bg = next(i for i, s in enumerate(steps) if s.marker == "bg")
    for s in steps[:first_bg]:
        if s.kind != "yaml":
            guide.step(s)


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "supervisor.py").exists(), reason="supervisor.py not there yet")
def test_the_guide_runs_from_top_to_bottom(tmp_path: Path) -> None:
    guide = Guide(tmp_path)
    try:
        for s in parse(GUIDE.read_text()):
            guide.step(s)
        assert not guide.background, "the guide leaves background processes running"
    finally:
        guide.cleanup()
