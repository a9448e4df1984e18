"""looppoller.RedialingTransport: a dial whose SYN is dropped is abandoned and made again, instead
of waiting on the kernel's SYN retransmissions (1, 3, 7 s...).

The dropped SYN comes from a listener whose accept queue is full: Linux then drops incoming SYNs
silently (net/ipv4/tcp_ipv4.c, tcp_v4_syn_recv_sock / sk_acceptq_is_full), as a partition does.
The dials are read from the kernel's own table (/proc/net/tcp, state SYN_SENT)."""
from __future__ import annotations

import socket
import time

from pysyncobj import SyncObjConf

from kubeling.services.etcd.looppoller import RedialingTransport
from kubeling.services.etcd.raftfix import RaftLogFix

SYN_SENT = "02"


def syn_sent_ports(to_port: int) -> set[int]:
    """Local ports of this machine's sockets in SYN_SENT towards 127.0.0.1:<to_port>."""
    ports = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == SYN_SENT and remote == f"0100007F:{to_port:04X}":
                ports.add(int(local.split(":")[1], 16))
    return ports


def test_a_dial_that_gets_no_answer_is_made_again():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    member = None
    try:
        # fill the accept queue (backlog 0 holds one connection; one more to be sure it is full)
        for _ in range(2):
            s = socket.socket()
            s.settimeout(0.2)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                pass
            fillers.append(s)
        conf = SyncObjConf(autoTick=False, connectionRetryTime=0.05, raftMinTimeout=5, raftMaxTimeout=6,
                           connectionTimeout=6)
        # the member dials peers whose address sorts lower than its own ("127.0.0.2" > "127.0.0.1")
        member = RaftLogFix("127.0.0.2:1", [f"127.0.0.1:{port}"], conf,
                            transportClass=lambda *a: RedialingTransport(0.2, *a))
        seen: set[int] = set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(seen) < 3:
            member.doTick(0.01)
            now = syn_sent_ports(port) - {f.getsockname()[1] for f in fillers}
            assert len(now) <= 1, "one dial at a time: an abandoned dial is closed"
            seen |= now
        assert len(seen) >= 3, f"the member kept waiting on one dial: {seen}"
    finally:
        if member is not None:
            member.destroy()
        for f in fillers:
            f.close()
        listener.close()
