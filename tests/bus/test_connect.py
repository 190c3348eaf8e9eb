"""Joining the proxy: the socket options every node's sockets get."""

from __future__ import annotations

from pathlib import Path

import zmq

from bus.connect import RECONNECT_IVL_MS, connect
from bus.nodeconfig import NodeConfig


def test_a_lost_proxy_is_tried_again_every_reconnect_interval_without_backoff(
    tmp_path: Path,
) -> None:
    # The supervisor announces a proxy restart once every node has had its next try
    # (supervision.buswatch.RESUBSCRIBE_S): that bound holds only without a growing backoff.
    cfg = NodeConfig(
        name="n", pub_endpoint=f"ipc://{tmp_path}/pub", sub_endpoint=f"ipc://{tmp_path}/sub"
    )
    ctx = zmq.Context()
    try:
        for kind in (zmq.PUB, zmq.SUB):
            sock = connect(ctx, kind, cfg, linger_ms=0)
            assert sock.getsockopt(zmq.RECONNECT_IVL) == RECONNECT_IVL_MS
            assert sock.getsockopt(zmq.RECONNECT_IVL_MAX) == 0
            sock.close()
    finally:
        ctx.term()
