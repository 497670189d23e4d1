"""A netem stand-in: hold every queued packet for a fixed delay, drop a share of them.

This machine's kernel has no ``sch_netem`` (``tc qdisc add … netem`` answers "Specified
qdisc kind is unknown"), but it has netfilter's NFQUEUE: iptables hands each packet that
crosses a rule to a userspace process and waits for its verdict. This is that process:
it binds one queue (metadata only, no payload copied), and answers ACCEPT ``delay``
seconds after a packet arrived — or DROP with probability ``loss``. Packets stay in the
kernel meanwhile, in order, so a constant delay keeps TCP's segments in sequence as
netem does. Run it in the namespace whose rules queue the packets:

    ip netns exec NS python3 tests/integration/delay_line.py --queue 0 --delay-ms 200
    ip netns exec NS iptables -A OUTPUT -o eth0 -j NFQUEUE --queue-num 0

It prints "ready" on stdout once bound (before that, queued packets would be dropped by
the kernel for want of a listener). Standard library only; no Qt, no pytest.
"""
from __future__ import annotations

import argparse
import collections
import errno
import random
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_DROP, NF_ACCEPT = 0, 1
NLMSG_HDR = struct.Struct("=IHHII")
NFGEN_HDR = struct.Struct("=BBH")


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _message(kind: int, queue: int, attrs: bytes, flags: int = NLM_F_REQUEST,
             family: int = socket.AF_UNSPEC) -> bytes:
    body = NFGEN_HDR.pack(family, 0, socket.htons(queue)) + attrs
    return NLMSG_HDR.pack(NLMSG_HDR.size + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind,
                          flags, 0, 0) + body


def packet_ids(data: bytes) -> list[int]:
    """The packet ids of every NFQNL_MSG_PACKET in one netlink datagram."""
    ids = []
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, kind, _flags, _seq, _pid = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size:
            break
        if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            pos = offset + NLMSG_HDR.size + NFGEN_HDR.size
            end = offset + length
            while pos + 4 <= end:
                alen, atype = struct.unpack_from("=HH", data, pos)
                if alen < 4:
                    break
                if atype & 0x7FFF == NFQA_PACKET_HDR:
                    ids.append(struct.unpack_from("!I", data, pos + 4)[0])
                    break
                pos += (alen + 3) & ~3
        offset += (length + 3) & ~3
    return ids


class DelayLine:
    def __init__(self, queue: int, delay_s: float, loss: float, seed: int | None = None):
        self.queue, self.delay_s, self.loss = queue, delay_s, loss
        self.random = random.Random(seed)
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((0, 0))
        self.held: collections.deque[tuple[float, int]] = collections.deque()
        self.passed = self.dropped = 0

    def bind(self) -> None:
        # One bind per queue (the kernel answers EBUSY to a second one for IPv6).
        self._config(_attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND,
                                                     socket.AF_INET)), socket.AF_INET)
        self._config(_attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))
                     + _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 65536)))

    def _config(self, attrs: bytes, family: int = socket.AF_UNSPEC) -> None:
        self.sock.send(_message(NFQNL_MSG_CONFIG, self.queue, attrs,
                                NLM_F_REQUEST | NLM_F_ACK, family))
        reply = self.sock.recv(65536)
        length, kind = NLMSG_HDR.unpack_from(reply)[:2]
        if kind == NLMSG_ERROR:
            code = struct.unpack_from("=i", reply, NLMSG_HDR.size)[0]
            if code:
                raise OSError(-code, f"NFQUEUE configuration refused: {errno.errorcode[-code]}")

    def _verdict(self, packet_id: int, verdict: int) -> None:
        self.sock.send(_message(NFQNL_MSG_VERDICT, self.queue,
                                _attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id))))

    def run(self) -> None:
        while True:
            now = time.monotonic()
            while self.held and self.held[0][0] <= now:
                self._verdict(self.held.popleft()[1], NF_ACCEPT)
                self.passed += 1
            timeout = max(0.0, self.held[0][0] - now) if self.held else None
            readable, _, _ = select.select([self.sock], [], [], timeout)
            if not readable:
                continue
            try:
                data = self.sock.recv(1 << 16)
            except OSError as err:
                if err.errno == errno.ENOBUFS:   # the kernel dropped queue messages
                    continue
                raise
            arrived = time.monotonic()
            for packet_id in packet_ids(data):
                if self.loss and self.random.random() < self.loss:
                    self._verdict(packet_id, NF_DROP)
                    self.dropped += 1
                elif self.delay_s <= 0:
                    self._verdict(packet_id, NF_ACCEPT)
                    self.passed += 1
                else:
                    self.held.append((arrived + self.delay_s, packet_id))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--loss", type=float, default=0.0, help="share dropped, 0..1")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    line = DelayLine(args.queue, args.delay_ms / 1000, args.loss, args.seed)
    line.bind()
    print("ready", flush=True)
    try:
        line.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
