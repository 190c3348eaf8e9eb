"""Bus clients that ``test_two_hosts.py`` runs inside a network namespace (``ip netns exec``).

    python -m tests.configs.netns_agent ear        # print what crosses the bus, one JSON a line
    python -m tests.configs.netns_agent mouth      # say each line read on stdin as audio.frame
    python -m tests.configs.netns_agent stranger --secret S --server-public P --endpoint E

``ear`` and ``mouth`` join the bus of the supervisor whose runtime directory is
``$VOICEBUS_RUNTIME_DIR`` (its ``bus.json``: endpoints and CURVE client keys), as a hand-started
worker does. ``ear`` prints ``{"ready": true}`` once joined, then one line per message of
:data:`EAR_TOPICS`. ``mouth`` publishes 20 ms frames of silence in real time and speaks each line
of stdin (espeak-ng, as the demo does), printing ``{"said": TEXT}`` when it is out.
``stranger`` connects a CURVE SUB socket with the keys it is given and prints the outcome of its
ZMTP handshake as the socket monitor reports it: ``succeeded``, ``failed_auth`` or ``none``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from bus import Node, NodeConfig, curve

EAR_TOPICS = (
    "asr.text", "tts.request", "speaker.report", "dialog.turn", "sys.lifecycle", "sys.heartbeat",
    "vad.state",
)  # fmt: skip


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def ear() -> int:
    """Print every message of EAR_TOPICS until SIGTERM."""
    node = Node(NodeConfig.from_env("ear"))
    node.subscribe(*EAR_TOPICS)
    _emit({"ready": True})
    for msg in node:
        fields = msg.payload.model_dump() if msg.typed else dict(msg.payload)  # type: ignore[union-attr]
        fields = {k: v for k, v in fields.items() if not isinstance(v, bytes)}
        _emit({"t": time.monotonic(), "topic": msg.topic, "src": msg.source,
               "trace": msg.trace, "p": fields})  # fmt: skip
    node.close()
    return 0


def mouth() -> int:
    """Say each stdin line on the bus; silence in between."""
    from demo.player import ScriptedMic
    from demo.script import speak_line
    from workers.tts.backends import Espeak

    node = Node(NodeConfig.from_env("mouth"), signals=False)
    mic = ScriptedMic(node)
    mic.start()
    engine = Espeak(speed_wpm=150)
    _emit({"ready": True})
    try:
        for raw in sys.stdin:
            text = raw.strip()
            if not text:
                continue
            mic.say(speak_line(text, engine))
            while mic.speaking:
                time.sleep(0.02)
            _emit({"said": text, "t": time.monotonic()})
    finally:
        mic.stop()
        mic.join(timeout=2)
        node.close()
    return 0


def stranger(secret: Path, server_public: Path, endpoint: str, wait_s: float) -> int:
    """Try a CURVE handshake with these keys; print what the socket monitor saw."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    curve.apply_client(sock, secret, server_public)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    monitor = sock.get_monitor_socket()
    sock.connect(endpoint)
    outcome, events = "none", []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and outcome == "none":
        if not monitor.poll(100):
            continue
        event = recv_monitor_message(monitor)["event"]
        events.append(int(event))
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            outcome = "succeeded"
        elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            outcome = "failed_auth"
    got = sock.poll(500)  # a refused client receives nothing
    _emit({"handshake": outcome, "events": events, "received": bool(got)})
    sock.disable_monitor()
    monitor.close(linger=0)
    sock.close(linger=0)
    ctx.term()
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m tests.configs.netns_agent")
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("ear")
    sub.add_parser("mouth")
    s = sub.add_parser("stranger")
    s.add_argument("--secret", type=Path, required=True)
    s.add_argument("--server-public", type=Path, required=True)
    s.add_argument("--endpoint", required=True)
    s.add_argument("--wait-s", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.mode == "ear":
        return ear()
    if args.mode == "mouth":
        return mouth()
    return stranger(args.secret, args.server_public, args.endpoint, args.wait_s)


if __name__ == "__main__":
    sys.exit(main())
