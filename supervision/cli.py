"""python supervisor.py: run the supervisor, or talk to the running one.

    python supervisor.py CONFIG                 check, then run in the foreground (Ctrl-C stops)
    python supervisor.py check CONFIG...        check configs against the manifests, run nothing
    python supervisor.py graph CONFIG [--out D] print the dataflow; write D/NAME.mmd and .svg
    python supervisor.py status [--json]        table of workers (or a JSON list)
    python supervisor.py start|stop|restart NAME   and wait for the result (--no-wait: don't)
    python supervisor.py add FILE.yaml | 'NAME: {module: ...}' | MODULE [--name NAME]
    python supervisor.py quit                   stop the running supervisor

The running supervisor is found through its runtime directory: ``--runtime-dir``, else
``$VOICEBUS_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/voicebus``, else ``/tmp/voicebus-<uid>``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from bus.errors import BusError
from bus.runtime import default_runtime_dir
from supervision.control import ControlClient
from supervision.dataflow import Dataflow, inspect_file
from supervision.errors import ConfigError, ControlError, SupervisionError
from supervision.topology import Topology, format_cores

__all__ = ["format_table", "main"]

_COMMANDS = ("run", "check", "graph", "status", "start", "stop", "restart", "add", "quit")
#: Exit status of ``check``, ``graph`` and ``run`` for a config that cannot run as configured.
EXIT_BAD_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python supervisor.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runtime-dir", type=Path, help="runtime directory of the supervisor")
    sub = p.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the supervisor in the foreground (the default)")
    run.add_argument("config", type=Path)
    check = sub.add_parser(
        "check", help="check configs against the workers' manifests without running anything"
    )
    check.add_argument("configs", type=Path, nargs="+")
    graph = sub.add_parser("graph", help="print a config's dataflow and draw it (Mermaid, SVG)")
    graph.add_argument("config", type=Path)
    graph.add_argument(
        "--out", type=Path, default=Path("out/graph"), help="folder of NAME.mmd and NAME.svg"
    )
    status = sub.add_parser("status", help="show every worker")
    status.add_argument("--json", action="store_true", help="print a JSON list")
    for name, what in (("start", "ready"), ("stop", "stopped"), ("restart", "ready again")):
        c = sub.add_parser(name, help=f"{name} a worker and wait until it is {what}")
        c.add_argument("name")
        c.add_argument("--no-wait", action="store_true", help="return at once")
        c.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (60)")
    add = sub.add_parser("add", help="attach workers at run time")
    add.add_argument("spec", help="a YAML file, inline YAML 'NAME: {...}', or a module name")
    add.add_argument("--name", help="worker name when SPEC is a module (default: its last part)")
    sub.add_parser("quit", help="stop every worker, the bus and the supervisor")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # ``supervisor.py CONFIG`` is short for ``supervisor.py run CONFIG``.
    positional = [
        i
        for i, a in enumerate(argv)
        if not a.startswith("-") and (i == 0 or argv[i - 1] != "--runtime-dir")
    ]
    if positional and argv[positional[0]] not in _COMMANDS:
        argv.insert(positional[0], "run")
    args = _parser().parse_args(argv)
    if args.runtime_dir is not None:
        os.environ["VOICEBUS_RUNTIME_DIR"] = str(args.runtime_dir)
    try:
        if args.cmd == "run":
            return _run(args.config)
        if args.cmd == "check":
            return _check(args.configs)
        if args.cmd == "graph":
            return _graph(args.config, args.out)
        client = ControlClient(default_runtime_dir())
        return _control(client, args)
    except (SupervisionError, BusError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG


def _run(path: Path) -> int:
    from supervision.arbiter import Arbiter  # the CLI client commands do not need it

    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s supervisor[{os.getpid()}] %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    df = _inspect(path, Topology.probe())
    for line in df.warnings:
        logging.getLogger("supervision").warning("config_warning %s", line)
    if not df.ok or df.config is None:
        _report(df, sys.stderr)
        return EXIT_BAD_CONFIG
    return Arbiter(df.config).run()


def _inspect(path: Path, topo: Topology) -> Dataflow:
    """The config checked with its manifests, and its CPU sets against ``topo``."""
    df = inspect_file(path)
    if df.config is not None:
        for name, spec in df.config.workers.items():
            try:
                topo.resolve(spec.cpus, f"workers.{name}.cpus")
            except ConfigError as exc:
                df.errors.append(str(exc))
    return df


def _report(df: Dataflow, out: TextIO) -> None:
    """Every problem of ``df``, one per line."""
    if df.ok:
        cfg = df.config
        assert cfg is not None
        what = f"{len(cfg.workers)} workers, bus {cfg.bus.mode}"
        warned = f", {len(df.warnings)} warning(s)" if df.warnings else ""
        print(f"{df.where}: ok ({what}){warned}", file=out)
    else:
        print(f"{df.where}: refused, {len(df.errors)} error(s):", file=out)
    for line in df.errors:
        print(f"  error: {line}", file=out)
    for line in df.warnings:
        print(f"  warning: {line}", file=out)


def _check(paths: list[Path]) -> int:
    topo = Topology.probe()
    status = 0
    for path in paths:
        df = _inspect(path, topo)
        _report(df, sys.stdout)
        status = status or (0 if df.ok else EXIT_BAD_CONFIG)
    return status


def _graph(path: Path, out_dir: Path) -> int:
    from supervision import render

    df = inspect_file(path)
    if df.config is None:
        _report(df, sys.stderr)
        return EXIT_BAD_CONFIG
    print(render.text(df))
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = path.stem
    (out_dir / f"{stem}.mmd").write_text(render.mermaid(df))
    (out_dir / f"{stem}.svg").write_text(render.svg(df))
    print(f"\nwrote {out_dir / f'{stem}.mmd'} (Mermaid) and {out_dir / f'{stem}.svg'}")
    if df.errors or df.warnings:
        print(file=sys.stderr)
        _report(df, sys.stderr)
    return 0 if df.ok else EXIT_BAD_CONFIG


def _control(client: ControlClient, args: argparse.Namespace) -> int:
    if args.cmd == "status":
        rows = client.call("status")["workers"]
        print(json.dumps(rows, indent=2) if args.json else format_table(rows))
        return 0
    if args.cmd == "quit":
        client.call("quit")
        return 0
    if args.cmd == "add":
        reply = client.call("add", yaml=_snippet(args.spec, args.name))
        print(f"added: {', '.join(reply['added'])}")
        for line in reply.get("warnings", []):
            print(f"  warning: {line}", file=sys.stderr)
        return 0
    before = _row(client, args.name)
    client.call(args.cmd, name=args.name)
    if args.no_wait:
        return 0
    return _wait(client, args.cmd, args.name, before, args.timeout)


def _snippet(spec: str, name: str | None) -> str:
    path = Path(spec)
    if path.is_file():
        return path.read_text()
    if ":" in spec or "\n" in spec:
        return spec
    return json.dumps({name or spec.rsplit(".", 1)[-1]: {"module": spec}})


def _row(client: ControlClient, name: str) -> dict[str, Any]:
    for row in client.call("status")["workers"]:
        if row["name"] == name:
            return dict(row)
    raise ControlError(f"No worker named {name!r}; see 'python supervisor.py status'.")


def _wait(
    client: ControlClient, cmd: str, name: str, before: dict[str, Any], timeout_s: float
) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = _row(client, name)
        if cmd == "stop" and row["state"] in ("stopped", "exited", "failed"):
            print(f"{name}: {row['state']} ({row['last_exit_text']})")
            return 0
        fresh = cmd == "start" or row["pid"] != before["pid"]
        if cmd != "stop" and row["state"] == "ready" and fresh:
            print(f"{name}: ready (pid {row['pid']})")
            return 0
        if cmd != "stop" and row["state"] in ("failed", "exited"):
            print(f"{name}: {row['state']}: {row['detail']}", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(f"{name}: still {row['state']} after {timeout_s:g} s", file=sys.stderr)
    return 1


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def format_table(rows: list[dict[str, Any]]) -> str:
    """The ``status`` table, then one line per worker that needs attention (with the reason its
    last process gave for its exit)."""
    header = ("NAME", "STATE", "PID", "CPUS", "RESTARTS", "UPTIME", "LAST EXIT")
    table = [header]
    for r in rows:
        table.append(
            (
                r["name"],
                r["state"],
                str(r["pid"] or "-"),
                format_cores(r["cpus"]),
                str(r["restarts"]),
                _uptime(r["uptime_s"]),
                r["last_exit_text"],
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    for r in rows:
        if r["detail"] and r["state"] in ("failed", "exited", "backoff", "stopping", "waiting"):
            reason = r.get("reason", "")
            more = f"; its last exit: {reason}" if reason and reason not in r["detail"] else ""
            lines.append(f"{r['name']}: {r['state']}: {r['detail']}{more}")
    return "\n".join(lines)
