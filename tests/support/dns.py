"""Real DNS servers on loopback for the reverse-lookup tests.

``LoopbackDNS`` is a dnslib server on 127.0.0.1 answering over UDP from a
small zone: forward-confirmed PTR names, a PTR whose forward lookup points
elsewhere (spoofed), and NXDOMAIN for everything else. ``BlackHoleDNS`` is a
UDP socket that receives queries and never answers.
"""

import socket
import threading
import time

from dnslib import AAAA, PTR, QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

# PTR names served for loopback addresses, and the A records of those names.
PTR_RECORDS = {
    "127.0.0.23": "shopper23.loopback.test",
    "127.0.0.26": "shopper26.loopback.test",
    "127.0.0.24": "bank.spoofed.test",  # claims a name that does not point back
}
A_RECORDS = {
    "shopper23.loopback.test": ["127.0.0.23"],
    "shopper26.loopback.test": ["127.0.0.26"],
    "bank.spoofed.test": ["127.0.0.99"],
}
AAAA_RECORDS = {"shopper6.loopback.test": ["::1"]}


def reverse_name(ip: str) -> str:
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa."


class ZoneResolver(BaseResolver):
    def __init__(self):
        self.queries: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        with self.lock:
            self.queries.append((qname, qtype))
        name = qname.rstrip(".").lower()
        found = False
        if qtype == "PTR":
            for ip, target in PTR_RECORDS.items():
                if reverse_name(ip) == qname.lower():
                    reply.add_answer(RR(qname, QTYPE.PTR, rdata=PTR(target + "."), ttl=60))
                    found = True
        elif qtype == "A" and name in A_RECORDS:
            for address in A_RECORDS[name]:
                reply.add_answer(RR(qname, QTYPE.A, rdata=A(address), ttl=60))
            found = True
        elif qtype == "AAAA" and name in AAAA_RECORDS:
            for address in AAAA_RECORDS[name]:
                reply.add_answer(RR(qname, QTYPE.AAAA, rdata=AAAA(address), ttl=60))
            found = True
        elif name in A_RECORDS or name in AAAA_RECORDS:
            found = True  # the name exists, without records of this type
        if not found:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class LoopbackDNS:
    """A dnslib UDP server on 127.0.0.1, on a free port, in a thread."""

    def __init__(self):
        self.zone = ZoneResolver()
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        self.server = DNSServer(self.zone, address="127.0.0.1", port=0, logger=quiet)
        self.port = self.server.server.server_address[1]

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config(self) -> dict:
        """The app settings that turn reverse DNS on against this server."""
        return {"RDNS_ENABLED": True, "RDNS_NAMESERVERS": [self.nameserver], "RDNS_TIMEOUT": 3}

    def start(self):
        self.server.start_thread()
        return self

    def stop(self):
        self.server.stop()
        self.server.server.server_close()


class BlackHoleDNS:
    """A UDP port that takes DNS queries and never answers any of them."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def received(self) -> int:
        """How many queries are waiting, unanswered (drains them)."""
        self.sock.setblocking(False)
        count = 0
        while True:
            try:
                self.sock.recv(4096)
            except BlockingIOError:
                return count
            count += 1

    def stop(self):
        self.sock.close()


def wait_for_lookup(app, ip):
    """Wait until the app's background lookup of ``ip`` has finished (not a timing check)."""
    resolver = app.extensions["webshop.resolver"]
    for _ in range(500):
        if not resolver.pending(ip):
            return
        time.sleep(0.02)
    raise AssertionError(f"lookup of {ip} never finished")
