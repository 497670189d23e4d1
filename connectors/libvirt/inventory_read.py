"""Reading a host's whole inventory in bulk, in one worker job.

Per domain, the only call is its XMLDesc: the state of every domain comes from one
``getAllDomainStats(STATE)``, and the persistent, autostart and managed-save flags from
three filtered ``listAllDomains`` calls, which usually return only a few domains. Read one
by one, each of those is an RPC per VM (five per VM in all), which on a remote host with
thousands of VMs is most of the load time.

Every libvirt object is created and released inside the job: releasing one is a call
that gives up Python's lock, and thousands of them on the event loop stall the UI. Where
the host is across a wire, several threads fetch the XML at once (each fetch is a round
trip); an in-process driver gains nothing from that.
"""
from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar, cast

import libvirt

from connectors.libvirt import domxml, readers
from connectors.libvirt.model import NetworkInfo, PoolInfo, VMInfo

Obj = TypeVar("Obj")
R = TypeVar("R")

PARALLEL_FROM = 200     # domains on one host from which their XML is fetched in parallel
PARSE_BATCH = 50        # domain XMLs read at a time (domxml.parse_many parses each as one)

# Held by an in-process host for its whole read: see read_inventory.
_IN_PROCESS_READ = threading.Lock()

_UNSUPPORTED = (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG,
                libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED)


@dataclass(frozen=True)
class Inventory:
    vms: list[VMInfo]
    networks: list[NetworkInfo]
    pools: list[PoolInfo]


@dataclass(frozen=True)
class _Flags:
    """The flags that the XML does not hold, by domain UUID; None: ask each domain."""
    transient: frozenset[str] | None
    autostart: frozenset[str] | None
    managed_save: frozenset[str] | None


def read_inventory(conn: libvirt.virConnect, driver: str, fetchers: int = 1,
                   in_process: bool = False) -> Inventory:
    """Every VM, network and storage pool of the host (blocking; run it in a worker).
    ``fetchers`` threads fetch domain XML at once on big hosts. An ``in_process`` driver
    (libvirt's test driver) answers with CPU work in this process: such hosts read their
    VMs one host at a time, since twenty at once only fight over both cores and the GIL,
    and the UI thread, one contender among twenty, took up to a second to add a host's
    rows."""
    if in_process:
        with _IN_PROCESS_READ:
            vms = read_all_vms(conn, driver, 1)
    else:
        vms = read_all_vms(conn, driver, fetchers)
    try:
        networks = conn.listAllNetworks(0)
    except libvirt.libvirtError:
        networks = []          # a driver without networks (some Xen set-ups)
    try:
        pools = conn.listAllStoragePools(0)
    except libvirt.libvirtError:
        pools = []
    return Inventory(vms, _each(readers.read_network, networks),
                     _each(readers.read_pool, pools))


def read_all_vms(conn: libvirt.virConnect, driver: str, fetchers: int = 1) -> list[VMInfo]:
    """Every domain of the host as a VMInfo. A domain that disappears while being read is
    left out (its undefine event follows)."""
    with_states = _domains_with_states(conn)
    flags = _Flags(_flagged(conn, libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT),
                   _flagged(conn, libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART),
                   _flagged(conn, libvirt.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE))
    xmls = _fetch_xml([dom for dom, _state in with_states], fetchers)
    vms = []
    # A batch of parsed trees at a time: all of them alive at once would only feed the
    # cycle collector (each pass of it then walks the whole inventory read so far).
    for start in range(0, len(xmls), PARSE_BATCH):
        models = domxml.parse_many(xmls[start:start + PARSE_BATCH])
        for (dom, (state, reason)), model in zip(with_states[start:start + PARSE_BATCH],
                                                 models, strict=True):
            if model is None:
                continue
            try:
                vms.append(_vm(dom, model, driver, state, reason, flags))
            except libvirt.libvirtError as err:
                if not readers.is_missing(err):
                    raise
    return vms


def _domains_with_states(conn: libvirt.virConnect) -> list[tuple[libvirt.virDomain,
                                                                  tuple[int, int]]]:
    """(domain, (state, reason)) for every domain: one call where the driver has bulk
    statistics, one state() per domain where it has not."""
    try:
        records = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE)
    except libvirt.libvirtError as err:
        if err.get_error_code() not in _UNSUPPORTED:
            raise
        records = None
    if records is not None:
        out = []
        for dom, stats in records:
            if "state.state" in stats:
                out.append((dom, (stats["state.state"], stats.get("state.reason", 0))))
            else:
                state = _state_of(dom)
                if state is not None:
                    out.append((dom, state))
        return out
    out = []
    for dom in conn.listAllDomains(0):
        state = _state_of(dom)
        if state is not None:
            out.append((dom, state))
    return out


def _state_of(dom: libvirt.virDomain) -> tuple[int, int] | None:
    try:
        # libvirt-python annotates state() as str; it returns [state, reason].
        state, reason = cast("list[int]", dom.state(0))[:2]
    except libvirt.libvirtError as err:
        if readers.is_missing(err):
            return None
        raise
    return state, reason


def _flagged(conn: libvirt.virConnect, flag: int) -> frozenset[str] | None:
    """UUIDs of the domains listAllDomains returns with ``flag``; None if the driver
    cannot filter so."""
    try:
        return frozenset(dom.UUIDString() for dom in conn.listAllDomains(flag))
    except libvirt.libvirtError as err:
        if err.get_error_code() in _UNSUPPORTED:
            return None
        raise


def _fetch_xml(domains: Sequence[libvirt.virDomain], fetchers: int) -> list[str | None]:
    """Each domain's XML (None for one that vanished), in order."""
    if fetchers <= 1 or len(domains) < PARALLEL_FROM:
        return _xml_of_each(domains)
    size = math.ceil(len(domains) / fetchers)
    parts = [domains[i:i + size] for i in range(0, len(domains), size)]
    with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="libvirt-fetch") as pool:
        return [xml for part in pool.map(_xml_of_each, parts) for xml in part]


def _xml_of_each(domains: Sequence[libvirt.virDomain]) -> list[str | None]:
    out: list[str | None] = []
    for dom in domains:
        try:
            out.append(readers.domain_xml(dom))
        except libvirt.libvirtError as err:
            if not readers.is_missing(err):
                raise
            out.append(None)
    return out


def _vm(dom: libvirt.virDomain, model: domxml.Domain, driver: str, state: int, reason: int,
        flags: _Flags) -> VMInfo:
    key = (model.uuid or "").strip()
    persistent = (key not in flags.transient if flags.transient is not None
                  else bool(dom.isPersistent()))
    if not persistent:
        autostart = managed_save = False
    else:
        autostart = (key in flags.autostart if flags.autostart is not None
                     else readers.asked(dom.autostart))
        managed_save = (key in flags.managed_save if flags.managed_save is not None
                        else readers.asked(lambda: dom.hasManagedSaveImage(0)))
    return readers.vm_from_domain(model, driver, state=state, reason=reason,
                                  persistent=persistent, autostart=autostart,
                                  managed_save=managed_save)


def _each(read: Callable[[Obj], R], objects: Sequence[Obj]) -> list[R]:
    """read(obj) for each object, leaving out those deleted while being read."""
    out: list[R] = []
    for obj in objects:
        try:
            out.append(read(obj))
        except libvirt.libvirtError as err:
            if not readers.is_missing(err):
                raise
    return out
