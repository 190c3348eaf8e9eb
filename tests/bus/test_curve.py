"""CURVE on tcp: admitted keys talk, wrong keys receive nothing, no keys is refused."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from bus import curve
from bus.errors import BusTimeout, ConfigError
from bus.node import Node
from bus.nodeconfig import CurveClient, NodeConfig
from bus.proxy import Proxy
from schemas import AsrText


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    curve.generate(tmp_path / "server", "bus")
    curve.generate(tmp_path / "clients", "good")
    curve.generate(tmp_path / "rogue", "bad")
    return tmp_path


def test_curve_proxy_admits_known_keys_and_refuses_others(keys: Path) -> None:
    pub, sub = f"tcp://127.0.0.1:{_free_port()}", f"tcp://127.0.0.1:{_free_port()}"
    proxy = Proxy(
        [pub], [sub], server_secret=keys / "server/bus.key_secret", clients_dir=keys / "clients"
    )
    proxy.start()

    def cfg(name: str, secret: Path) -> NodeConfig:
        return NodeConfig(
            name=name,
            pub_endpoint=pub,
            sub_endpoint=sub,
            handshake_timeout_s=1.5,
            curve=CurveClient(client_secret=secret, server_public=keys / "server/bus.key"),
        )

    try:
        with (
            Node(cfg("a", keys / "clients/good.key_secret"), signals=False) as a,
            Node(cfg("b", keys / "clients/good.key_secret"), signals=False) as b,
        ):
            b.subscribe("asr.text")
            time.sleep(0.2)
            a.publish("asr.text", AsrText(text="secret", segment_id="s"))
            msg = b.poll(5.0)
            assert msg is not None and msg.payload.text == "secret"  # type: ignore[union-attr]
        with pytest.raises(BusTimeout):
            Node(cfg("rogue", keys / "rogue/bad.key_secret"), signals=False)
    finally:
        proxy.stop()


def test_proxy_refuses_tcp_without_keys() -> None:
    with pytest.raises(ConfigError, match="needs CURVE"):
        Proxy(["tcp://127.0.0.1:0"], ["tcp://127.0.0.1:0"])


def test_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="keygen"):
        curve.load_secret(tmp_path / "nope.key_secret")
