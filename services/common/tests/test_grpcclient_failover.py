"""A multi-address target (`ipv4:a:p0,a:p1`, what `kuzet up --replicas` gives clients) spreads calls
over the replicas and keeps answering when one of them is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import grpc
import pytest

from kuzet.common.caller import Caller
from kuzet.common.grpcclient import open_channel
from kuzet.common.launcher import free_port, port_open

# A replica answering its own port, so the test sees which one served each call.
REPLICA = """
import sys
from concurrent import futures
import grpc
from kuzet.common.tls import bind, server_credentials
port = sys.argv[1]
handler = grpc.method_handlers_generic_handler(
    "kuzet.test.Replica", {"Who": grpc.unary_unary_rpc_method_handler(lambda req, ctx: port.encode())}
)
server = grpc.server(futures.ThreadPoolExecutor(2))
server.add_generic_rpc_handlers((handler,))
bind(server, f"127.0.0.1:{port}", server_credentials())
server.start()
server.wait_for_termination()
"""
CALLER = Caller("svc:test", "prison-a", frozenset({"service"}))


@pytest.fixture
def replicas() -> Iterator[dict[int, subprocess.Popen[bytes]]]:
    procs = {}
    for _ in range(2):
        port = free_port()
        procs[port] = subprocess.Popen([sys.executable, "-c", REPLICA, str(port)])
    try:
        deadline = time.monotonic() + 60
        while not all(port_open(p) for p in procs):
            assert time.monotonic() < deadline, "replicas did not start"
            time.sleep(0.1)
        yield procs
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


async def test_calls_fail_over_when_a_replica_is_killed(replicas: dict[int, subprocess.Popen[bytes]]) -> None:
    first, second = replicas
    async with open_channel(
        f"ipv4:127.0.0.1:{first},127.0.0.1:{second}", audience="replica", caller=CALLER
    ) as channel:
        who = channel.unary_unary("/kuzet.test.Replica/Who")
        await channel.channel_ready()
        served = {int(await who(b"", timeout=10)) for _ in range(20)}
        assert served == {first, second}

        replicas[first].send_signal(signal.SIGKILL)
        replicas[first].wait()
        # Every call still succeeds (retried onto the live replica), none reaches the dead one.
        answers = []
        for _ in range(20):
            try:
                answers.append(int(await who(b"", timeout=10)))
            except grpc.aio.AioRpcError as exc:  # pragma: no cover - the failure this test is about
                pytest.fail(f"call failed after one replica died: {exc.code()} {exc.details()}")
        assert set(answers) == {second}
