"""docs/protocol.md stays true: its example bytes, its CURVE recipe and its topic table.

The CURVE client of ``test_a_curve_client_written_from_the_page_alone_talks_to_the_bus`` uses
only pyzmq, msgpack and the facts of the page (bus.json, the key-file format, the socket
options, the required envelope keys, the probe); ``bus`` runs the server side and checks that
what the client sent is a valid voicebus message.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

import schemas
from bus import curve
from bus.framing import decode, encode
from bus.node import Node
from bus.nodeconfig import NodeConfig
from bus.proxy import Proxy
from schemas.base import Message
from schemas.registry import CORE_PREFIXES, Registry
from supervision.buslayout import BusLayout
from supervision.config import CurveKeys

DOC = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()


class Example(Message):
    """The model of the documented example."""

    text: str
    """Some text."""
    n: int
    """A number."""


def _block(containing: str) -> str:
    """The fenced block of the page that contains ``containing``, without its language tag."""
    for block in DOC.split("```")[1::2]:
        if containing in block:
            return block.split("\n", 1)[1]
    raise AssertionError(f"docs/protocol.md has no code block with {containing!r}")


def _doc_frame(label: str) -> bytes:
    block = _block("frame 0:")
    hexes: list[str] = []
    started = False
    for line in block.splitlines():
        if line.startswith(label):
            started = True
            line = line[len(label) :]
        elif line.startswith("frame"):
            started = False
        if started:
            hexes += re.findall(r"\b[0-9a-f]{2}\b", line.split('"')[0])
    return bytes.fromhex("".join(hexes))


def test_example_bytes_in_the_doc_are_what_the_encoder_writes() -> None:
    frames = encode(
        "ext.doc.example",
        Example(text="hi", n=3),
        source="w1",
        instance=0x1234ABCD,
        seq=7,
        ts_ns=1_000_000_000,
        trace="t1",
    )
    assert _doc_frame("frame 0:") == frames[0]
    assert _doc_frame("frame 1:") == frames[1]
    reg = Registry()
    reg.register("ext.doc.example", Example)
    assert decode(frames, reg).payload == Example(text="hi", n=3)


def test_topic_table_lists_every_core_topic_with_its_model() -> None:
    rows = dict(re.findall(r"^\| `([a-z.]+)` \| `schemas\.([a-z.A-Z]+)` \|", DOC, re.M))
    for topic, model in schemas.registry:
        if not topic.startswith(CORE_PREFIXES):
            continue  # ext. topics registered by other tests
        assert topic in rows, f"docs/protocol.md does not list {topic}"
        assert rows[topic] == f"{model.__module__.split('.', 1)[1]}.{model.__name__}"


def test_topic_table_is_the_one_generated_from_the_manifests() -> None:
    from supervision.docgen import COMMAND
    from supervision.topictable import replace_table

    assert replace_table(DOC) == DOC, (
        f"The topic table of docs/protocol.md differs from the workers' manifests; run {COMMAND}"
    )


def test_topic_table_says_who_produces_and_reads_what_the_code_does() -> None:
    rows = dict(re.findall(r"^\| `([a-z.]+)` \|[^|]*\|[^|]*\| (.+) \|$", DOC, re.M))
    assert rows["rtos.link"] == "rtgw -> -"  # the dialog does not read it
    assert rows["sys.lifecycle"] == "supervisor -> dialog, top (tap)"
    assert rows["speaker.stop"] == "dialog -> speaker, tts"
    assert rows["tts.audio"].startswith("tts -> dialog, speaker")


# --- CURVE, from the page alone --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def page_key(path_or_text: Path | str, which: str) -> bytes:
    """A key of a key file, as the page describes the format: skip ``#`` lines, take the quoted
    value of the ``public-key = `` or ``secret-key = `` line (40 Z85 characters)."""
    text = path_or_text.read_text() if isinstance(path_or_text, Path) else path_or_text
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            continue
        m = re.fullmatch(rf'{which}-key = "(.{{40}})"', line)
        if m:
            return m.group(1).encode()
    raise AssertionError(f"no {which}-key line")


def required_keys() -> list[str]:
    """The envelope keys the page marks required."""
    return re.findall(r"^\| `(\w+)` \| yes \|", DOC, re.M)


class PageClient:
    """A bus client built from docs/protocol.md: bus.json, CURVE options, envelope, probe."""

    def __init__(self, ctx: zmq.Context, bus_json: Path, secret_file: Path, name: str) -> None:
        conf = json.loads(bus_json.read_text())
        server = page_key(Path(conf["curve"]["server_public"]), "public")
        self.pub, self.sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
        for sock in (self.pub, self.sub):
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.CURVE_SERVERKEY, server)
            sock.setsockopt(zmq.CURVE_PUBLICKEY, page_key(secret_file, "public"))
            sock.setsockopt(zmq.CURVE_SECRETKEY, page_key(secret_file, "secret"))
        self.monitor = self.sub.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        self.pub.connect(conf["pub_endpoint"])
        self.sub.connect(conf["sub_endpoint"])
        self.name = name
        self.inst = int.from_bytes(os.urandom(4), "little")
        self.seq: dict[str, int] = {}

    def frames(self, topic: str, payload: dict[str, Any]) -> list[bytes]:
        self.seq[topic] = self.seq.get(topic, 0) + 1
        values = {"v": [1, 0], "src": self.name, "inst": self.inst, "seq": self.seq[topic],
                  "ts": time.monotonic_ns(), "tr": "", "p": payload}  # fmt: skip
        env = {k: values[k] for k in required_keys()}  # exactly what the page requires
        return [topic.encode(), msgpack.packb(env, use_bin_type=True)]

    def probe(self, timeout_s: float) -> bool:
        """Section 7: publish to ourselves until it comes back through the proxy."""
        topic = f"_probe.{self.inst:08x}"
        self.sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
        deadline = time.monotonic() + timeout_s
        nonce = 0
        try:
            while time.monotonic() < deadline:
                nonce += 1
                self.pub.send_multipart(self.frames(topic, {"nonce": nonce}))
                if self.sub.poll(20):
                    while self.sub.poll(0):
                        self.sub.recv_multipart()
                    return True
            return False
        finally:
            self.sub.setsockopt(zmq.UNSUBSCRIBE, topic.encode())

    def receive(self, topic: str, timeout_s: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.sub.poll(50):
                frames = self.sub.recv_multipart()
                env = msgpack.unpackb(frames[1], raw=False)
                if frames[0] == topic.encode() and env["v"][0] == 1:
                    return dict(env)
        return None

    def close(self) -> None:
        self.sub.disable_monitor()
        self.monitor.close(linger=0)
        self.pub.close()
        self.sub.close()


class Note(Message):
    """What the page's client publishes."""

    text: str
    """Some text."""


def test_the_key_file_example_of_the_page_is_a_real_pair_in_the_real_format(tmp_path: Path) -> None:
    example = _block("secret-key = ")
    public, secret = page_key(example, "public"), page_key(example, "secret")
    assert zmq.curve_public(secret) == public
    pub_file, secret_file = curve.generate(tmp_path, "k")
    assert page_key(secret_file, "public") == page_key(pub_file, "public")
    assert zmq.curve_public(page_key(secret_file, "secret")) == page_key(pub_file, "public")
    assert "secret-key" not in pub_file.read_text()
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"


def test_the_bus_json_of_the_page_has_the_keys_the_supervisor_writes(tmp_path: Path) -> None:
    keys = CurveKeys(server_secret=tmp_path / "s", server_public=tmp_path / "bus.key",
                     clients_dir=tmp_path, client_secret=tmp_path / "local.key_secret")  # fmt: skip
    layout = BusLayout(tmp_path, "tcp://*:1", "tcp://*:2", "tcp://h:1", "tcp://h:2", keys)
    written = layout.bus_file_data(500)
    documented = json.loads(_block('"pub_endpoint"'))
    assert set(documented) == set(written)
    assert set(documented["curve"]) == set(written["curve"])
    table = DOC.split("### Where the bus is", 1)[1].split("### CURVE", 1)[0]
    assert all(f"`{k}`" in table.split("```")[2] for k in written)  # each key explained


def test_a_curve_client_written_from_the_page_alone_talks_to_the_bus(tmp_path: Path) -> None:
    server_public, server_secret = curve.generate(tmp_path / "server", "bus")
    curve.generate(tmp_path / "clients", "local")
    _, rogue_secret = curve.generate(tmp_path / "rogue", "stranger")
    pub, sub = f"tcp://127.0.0.1:{_free_port()}", f"tcp://127.0.0.1:{_free_port()}"
    proxy = Proxy([pub], [sub], server_secret=server_secret, clients_dir=tmp_path / "clients")
    proxy.start()
    keys = CurveKeys(server_secret=server_secret, server_public=server_public,
                     clients_dir=tmp_path / "clients",
                     client_secret=tmp_path / "clients/local.key_secret")  # fmt: skip
    layout = BusLayout(tmp_path, pub, sub, pub, sub, keys)
    bus_json = tmp_path / "bus.json"
    bus_json.write_text(json.dumps(layout.bus_file_data(500)))
    ctx = zmq.Context()
    reg = Registry()
    reg.register("ext.docclient.note", Note)
    node_cfg = NodeConfig.parse({**json.loads(bus_json.read_text()), "name": "checker"})
    try:
        with Node(node_cfg, reg=reg, signals=False) as checker:
            checker.subscribe("ext.docclient.*")
            talker = PageClient(ctx, bus_json, keys.client_secret, "docclient")
            listener = PageClient(ctx, bus_json, keys.client_secret, "doclistener")
            rogue = PageClient(ctx, bus_json, rogue_secret, "stranger")
            try:
                assert talker.probe(10.0) and listener.probe(10.0)
                listener.sub.setsockopt(zmq.SUBSCRIBE, b"ext.docclient.")
                assert listener.probe(10.0)  # its subscription has reached the proxy too
                rogue.sub.setsockopt(zmq.SUBSCRIBE, b"")
                # the stranger is refused at the handshake, and libzmq says so on a monitor
                assert rogue.monitor.poll(10_000), "no handshake failure reported"
                event = recv_monitor_message(rogue.monitor)
                assert event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH
                assert not rogue.probe(0.5)
                got: dict[str, Any] | None = None
                msg = None
                deadline = time.monotonic() + 10
                while (got is None or msg is None) and time.monotonic() < deadline:
                    talker.pub.send_multipart(talker.frames("ext.docclient.note", {"text": "hi"}))
                    got = got or listener.receive("ext.docclient.note", 0.1)
                    msg = msg or checker.poll(0.1)
                assert got is not None and got["src"] == "docclient" and got["p"] == {"text": "hi"}
                assert msg is not None and msg.payload == Note(text="hi")
                assert (msg.source, msg.instance, msg.trace) == ("docclient", talker.inst, "")
                assert checker.stats.malformed == 0 and checker.stats.refused_version == 0
                assert rogue.receive("ext.docclient.note", 0.2) is None
            finally:
                for c in (talker, listener, rogue):
                    c.close()
    finally:
        ctx.term()
        proxy.stop()
