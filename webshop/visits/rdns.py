"""Reverse DNS off the request path, like Apache's ``HostnameLookups Double``.

A lookup asks for the PTR name of the address, then looks the name up
forward (A for IPv4, AAAA for IPv6). The name is *confirmed* only when the
forward answer contains the address. An unconfirmed name is kept, flagged
``domain_confirmed = False``: it is what the address's owner claims, shown
as such, and never used where a confirmed name is required (the
``--hostnames`` export uses confirmed names only).

Requests never wait for DNS. :meth:`DomainResolver.cached` answers from a
bounded LRU cache (positive and negative answers, each kept for
``RDNS_CACHE_TTL`` seconds) and :meth:`DomainResolver.request` hands a miss
to a few background threads through a bounded queue. When the queue is
full the lookup is dropped, not waited for; an address already being
looked up is not queued twice. Each lookup is limited to ``RDNS_TIMEOUT``
seconds in total, so a resolver that never answers costs each thread at
most that long per address and nothing piles up.
"""

import ipaddress
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver
import dns.reversename

from ..models import DOMAIN_MAX

log = logging.getLogger(__name__)

NO_DOMAIN = (None, False)


def parse_nameserver(value: str) -> dns.nameserver.Do53Nameserver:
    """``"127.0.0.1:5353"``, ``"[::1]:53"`` or a bare address (port 53)."""
    host, port = value.strip(), 53
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif host.count(":") == 1:
        host, _, port_text = host.partition(":")
        port = int(port_text)
    ipaddress.ip_address(host)
    return dns.nameserver.Do53Nameserver(host, port)


class LRUCache:
    """A bounded map of address -> (domain, confirmed) whose entries expire."""

    def __init__(self, size: int, ttl: float):
        self.size = max(1, size)
        self.ttl = ttl
        self.entries: OrderedDict[str, tuple[float, tuple[str | None, bool]]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, ip: str) -> tuple[str | None, bool] | None:
        with self.lock:
            found = self.entries.get(ip)
            if found is None:
                return None
            expires, answer = found
            if expires < time.monotonic():
                del self.entries[ip]
                return None
            self.entries.move_to_end(ip)
            return answer

    def put(self, ip: str, answer: tuple[str | None, bool]) -> None:
        with self.lock:
            self.entries[ip] = (time.monotonic() + self.ttl, answer)
            self.entries.move_to_end(ip)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self.entries)


class DomainResolver:
    """Forward-confirmed reverse DNS with a cache and a bounded background queue."""

    def __init__(
        self,
        nameservers: list[str],
        timeout: float,
        cache_size: int,
        cache_ttl: float,
        queue_size: int = 256,
        threads: int = 2,
    ):
        self.timeout = float(timeout)
        self.cache = LRUCache(cache_size, cache_ttl)
        self.queue: queue.Queue[str] = queue.Queue(maxsize=max(1, queue_size))
        self.in_flight: set[str] = set()
        self.lock = threading.Lock()
        self.thread_count = max(1, threads)
        self.threads: list[threading.Thread] = []
        self.listeners: list[Callable[[str, str | None, bool], None]] = []
        self.dropped = 0
        self.resolver = dns.resolver.Resolver(configure=not nameservers)
        if nameservers:
            self.resolver.nameservers = [parse_nameserver(value) for value in nameservers]
        self.resolver.cache = None  # answers are cached here, per address

    # -- the request side: never blocks -------------------------------------

    def cached(self, ip: str) -> tuple[str | None, bool]:
        """The cached (domain, confirmed) for ``ip``; (None, False) when not known yet."""
        return self.cache.get(ip) or NO_DOMAIN

    def request(self, ip: str) -> bool:
        """Queue a lookup of ``ip`` unless it is cached, in flight or the queue is full."""
        if self.cache.get(ip) is not None:
            return False
        with self.lock:
            if ip in self.in_flight:
                return False
            try:
                self.queue.put_nowait(ip)
            except queue.Full:
                self.dropped += 1
                return False
            self.in_flight.add(ip)
        self.ensure_threads()
        return True

    def pending(self, ip: str) -> bool:
        """Whether a lookup of ``ip`` is queued or running."""
        with self.lock:
            return ip in self.in_flight

    def ensure_threads(self) -> None:
        if len(self.threads) >= self.thread_count:
            return
        with self.lock:
            while len(self.threads) < self.thread_count:
                thread = threading.Thread(target=self.work, name="webshop-rdns", daemon=True)
                thread.start()
                self.threads.append(thread)

    # -- the background side ------------------------------------------------

    def work(self) -> None:
        while True:
            ip = self.queue.get()
            try:
                answer = self.resolve(ip)
            except Exception:
                log.exception("reverse lookup of %s failed", ip)
                answer = NO_DOMAIN
            self.cache.put(ip, answer)
            # The listeners run before the lookup stops being pending, so whoever
            # waits for it finds the answer stored wherever they put it.
            for listener in self.listeners:
                try:
                    listener(ip, *answer)
                except Exception:
                    log.exception("domain listener failed for %s", ip)
            with self.lock:
                self.in_flight.discard(ip)

    def resolve(self, ip: str) -> tuple[str | None, bool]:
        """PTR, then forward A/AAAA, within ``timeout`` seconds in all.

        Returns (name, True) when forward-confirmed, (name, False) when the
        forward answer does not contain ``ip``, and (None, False) when there
        is no name or no answer in time.
        """
        deadline = time.monotonic() + self.timeout
        address = ipaddress.ip_address(ip)
        try:
            answer = self.resolver.resolve(dns.reversename.from_address(ip), "PTR", lifetime=self.timeout)
        except (dns.exception.DNSException, OSError):
            return NO_DOMAIN
        names = sorted(str(record.target).rstrip(".").lower() for record in answer)
        names = [name for name in names if name and len(name) <= DOMAIN_MAX]
        if not names:
            return NO_DOMAIN
        rdtype = "A" if address.version == 4 else "AAAA"
        for name in names:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                forward = self.resolver.resolve(name, rdtype, lifetime=remaining, search=False)
            except (dns.exception.DNSException, OSError):
                continue
            if any(ipaddress.ip_address(record.address) == address for record in forward):
                return name, True
        return names[0], False
