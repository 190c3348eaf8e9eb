"""Joining the proxy: socket options, CURVE, and the start-up handshake shared by every node.

The handshake publishes a probe on ``_probe.<instance>`` to ourselves until it comes back
through the proxy: then both our PUB path and our SUB path work, and nothing published after it
is lost to a half-made connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import zmq

from bus import curve
from bus.errors import BusTimeout
from bus.framing import encode
from bus.nodeconfig import NodeConfig
from schemas.system import Ping

__all__ = ["PROBE_PREFIX", "RECONNECT_IVL_MS", "SHM_READER", "await_handshake", "connect"]

#: Topic prefix of the start-up probe (not a registered topic; never matches a user glob).
PROBE_PREFIX = b"_probe."
#: The subscription by which a SUB socket on an ``ipc://`` endpoint says it reads this machine's
#: shared-memory rings (``docs/protocol.md`` section 9). Nothing is published on it; the proxy
#: counts it (``sys.bus``).
SHM_READER = b"_shm.reader"
#: A lost connection to the proxy is tried again after this long plus a random jitter of up to as
#: much, ms (libzmq's default, set here so that it has one source: the supervisor announces a
#: proxy restart only once every node has had the time to reconnect, supervision.buswatch).
RECONNECT_IVL_MS = 100
#: tcp only: a ZMTP PING this often when the connection is quiet, ms.
TCP_HEARTBEAT_MS = 1000
#: tcp only: a connection with no answer this long is dropped and made again, ms.
TCP_DEAD_MS = 3000


def connect(
    ctx: zmq.Context,
    kind: int,
    config: NodeConfig,
    linger_ms: int = 1000,
    subscribe: tuple[bytes, ...] = (),
) -> zmq.Socket:
    """A PUB (to the proxy's XSUB side) or SUB (to its XPUB side) socket, connected.

    A SUB socket subscribes to the prefixes in ``subscribe``, then, on an ``ipc://`` endpoint,
    to :data:`SHM_READER`: every reader made here decodes shared-memory payloads
    (``bus.framing``). In that order, so that the ``sys.bus`` the proxy sends when it sees the
    marker reaches a socket that asked for it."""
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, linger_ms)
    sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
    if kind == zmq.SUB:
        sock.setsockopt(zmq.RCVHWM, config.hwm)
    else:
        sock.setsockopt(zmq.SNDHWM, config.hwm)
    if config.curve is not None:
        curve.apply_client(sock, config.curve.client_secret, config.curve.server_public)
    endpoint = config.sub_endpoint if kind == zmq.SUB else config.pub_endpoint
    if endpoint.startswith("tcp://"):
        # ZMTP heartbeats: a link that stops answering (a pulled cable) is dropped after
        # TCP_DEAD_MS and reconnected every 100 ms, so traffic resumes as soon as the link is
        # back, instead of when TCP's retransmission backoff next tries (tens of seconds).
        sock.setsockopt(zmq.HEARTBEAT_IVL, TCP_HEARTBEAT_MS)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, TCP_DEAD_MS)
    sock.connect(endpoint)
    for prefix in subscribe:
        sock.setsockopt(zmq.SUBSCRIBE, prefix)
    if kind == zmq.SUB and endpoint.startswith("ipc://"):
        sock.setsockopt(zmq.SUBSCRIBE, SHM_READER)
    return sock


def await_handshake(
    pub: zmq.Socket,
    sub: zmq.Socket,
    config: NodeConfig,
    instance: int,
    on_traffic: Callable[[list[bytes]], None] | None = None,
) -> None:
    """Probe ourselves through the proxy until the probe returns, or raise :class:`BusTimeout`.

    Other frames that arrive meanwhile (when ``sub`` already has subscriptions) go to
    ``on_traffic``; without it they are dropped.
    """
    topic = PROBE_PREFIX + f"{instance:08x}".encode()
    sub.setsockopt(zmq.SUBSCRIBE, topic)
    deadline = time.monotonic() + config.handshake_timeout_s
    nonce = 0
    try:
        while time.monotonic() < deadline:
            nonce += 1
            pub.send_multipart(
                encode(
                    topic.decode(),
                    Ping(nonce=nonce),
                    source=config.name,
                    instance=instance,
                    seq=nonce,
                    ts_ns=time.monotonic_ns(),
                )
            )
            if sub.poll(20):
                while sub.poll(0):
                    frames = sub.recv_multipart()
                    if not frames[0].startswith(PROBE_PREFIX) and on_traffic is not None:
                        on_traffic(frames)
                return
        raise BusTimeout(
            f"The bus did not answer within {config.handshake_timeout_s:.1f} s "
            f"(pub {config.pub_endpoint}, sub {config.sub_endpoint}). Is the supervisor (and its "
            "proxy) running, and are the CURVE keys right? Start it first, or set "
            "VOICEBUS_RUNTIME_DIR to the runtime directory of the one you mean."
        )
    finally:
        sub.setsockopt(zmq.UNSUBSCRIBE, topic)
