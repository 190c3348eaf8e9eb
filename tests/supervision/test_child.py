"""Child processes: own process group, normalised exit codes, pinning and nice applied."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil

from supervision.child import EXIT_SETUP_FAILED, Child, Launch, describe_exit


def launch(code: str, **kw: object) -> Launch:
    return Launch((sys.executable, "-c", code), dict(os.environ), Path.cwd(), **kw)  # type: ignore[arg-type]


def test_exit_codes_are_normalised() -> None:
    assert Child(launch("raise SystemExit(4)")).wait(20) == 4
    child = Child(launch("import time; time.sleep(30)"))
    child.kill()
    assert child.wait(20) == -signal.SIGKILL
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(0) == "exit 0"
    assert describe_exit(None) == "-"


def test_child_runs_in_its_own_group_and_the_group_dies_with_it(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild"
    code = (
        "import subprocess, sys, time;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    child = Child(launch(code))
    assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
    deadline = time.monotonic() + 20
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    grandchild = int(pidfile.read_text())
    assert child.owns(grandchild) and not child.owns(os.getpid())
    child.terminate(grace_s=5, now=time.monotonic())
    assert child.wait(20) == -signal.SIGTERM
    if psutil.pid_exists(grandchild):
        psutil.wait_procs([psutil.Process(grandchild)], timeout=10)
    assert not psutil.pid_exists(grandchild) or (
        psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
    )


def test_grace_expiry_escalates_to_sigkill() -> None:
    child = Child(
        launch("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)")
    )
    time.sleep(0.3)  # let it install its handler
    now = time.monotonic()
    child.terminate(grace_s=0.2, now=now)
    assert child.wait(0.1) is None
    assert child.enforce(now + 0.3)
    assert child.wait(20) == -signal.SIGKILL


def test_cpus_and_nice_are_applied_before_the_program_runs() -> None:
    code = (
        "import os\n"
        "assert sorted(os.sched_getaffinity(0)) == [0]\n"
        "assert os.getpriority(os.PRIO_PROCESS, 0) == 7\n"
    )
    assert Child(launch(code, cpus=(0,), nice=7)).wait(20) == 0


def test_settings_that_cannot_be_applied_fail_with_a_distinct_status() -> None:
    child = Child(launch("pass", cpus=(4096,)))
    assert child.wait(20) == EXIT_SETUP_FAILED
    assert "could not be applied" in describe_exit(EXIT_SETUP_FAILED)


def test_sched_fifo_is_applied_or_the_child_refuses_to_run() -> None:
    code = "import os; raise SystemExit(0 if os.sched_getscheduler(0) == os.SCHED_FIFO else 1)"
    assert Child(launch(code, sched_fifo=10)).wait(20) in (0, EXIT_SETUP_FAILED)


def test_mlockall_launcher_locks_memory_then_runs_the_module() -> None:
    argv = (sys.executable, "-m", "supervision.launch", "--mlockall", "-m")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = Child(Launch((*argv, "tests.supervision.workers.lockcheck"), env, Path.cwd()))
    assert child.wait(20) in (0, EXIT_SETUP_FAILED)  # locked, or refused with the reason
    unlocked = Child(
        Launch((sys.executable, "-m", "tests.supervision.workers.lockcheck"), env, Path.cwd())
    )
    assert unlocked.wait(20) == 1
