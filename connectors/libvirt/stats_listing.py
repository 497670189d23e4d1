"""The running domains a full statistics tick asks for, as handles kept from tick to tick.

Why: a host with more than STATS_CHUNK domains is asked in chunks (domainListGetStats),
which needs the domains as handles first. Listing them with listAllDomains made 10,000
virDomain handles a full tick, and letting them go again cost as much: libvirt-python
frees each in its own call that gives up the GIL (28 ms for 10,000 here, plus 13 ms to
make them). Instead, listDomainsID (one call, plain ints) says which domains run, and
the handles are kept by running id: a handle stays valid for its domain (calls name it
by UUID), and an id is never reused while libvirtd runs, so only a domain started since
the last full tick needs a lookupByID. The handles come from the full ticks' answers.

No Qt here.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from operator import itemgetter
from typing import cast

import libvirt

from connectors.libvirt.stats_records import RawRecord, StatsDict

log = logging.getLogger(__name__)


class RunningHandles:
    """One handle per running domain of a connection, by running id."""

    def __init__(self) -> None:
        self._by_id: dict[int, libvirt.virDomain] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def listed(self, conn: libvirt.virConnect) -> list[libvirt.virDomain]:
        """Every running domain as a handle: one listDomainsID call, the kept handles,
        and a lookupByID for an id not seen yet (one that has gone meanwhile is left out;
        a later full tick sees it if it came back)."""
        # libvirt-python annotates listDomainsID as str; it returns the ids as ints.
        ids = cast("list[int]", conn.listDomainsID())
        by_id = self._by_id
        found = list(map(by_id.get, ids))
        if None in found:
            for i in [i for i, dom in enumerate(found) if dom is None]:
                try:
                    found[i] = by_id[ids[i]] = conn.lookupByID(ids[i])
                except libvirt.libvirtError as err:
                    if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                        raise
                    log.debug("domain %d went away before its statistics", ids[i])
        if len(by_id) != len(ids):          # forget domains no longer running
            running = set(ids)
            for gone in [i for i in by_id if i not in running]:
                del by_id[gone]
        return [dom for dom in found if dom is not None]

    def release(self) -> threading.Thread | None:
        """Let every kept handle go on a thread of its own: freeing 10,000 of them costs
        30 ms, which the loop thread (where a sampler is dropped) must not pay. Returns
        the thread (None when nothing was kept)."""
        if not self._by_id:
            return None
        kept, self._by_id = self._by_id, {}
        thread = threading.Thread(target=kept.clear, daemon=True,
                                  name="hvconsole-stats-release")
        thread.start()
        return thread

    def learn(self, records: Sequence[tuple[libvirt.virDomain, StatsDict]],
              keyed: Sequence[RawRecord]) -> None:
        """After a full answer (every running domain): keep the handles of its domains
        not kept yet (the first full tick: all of them), forget those not in it.
        ``keyed`` is ``records`` keyed, in the same order."""
        by_id = self._by_id
        idents = list(map(itemgetter(1), keyed))
        running = set(idents)
        running.discard(None)
        for gone in by_id.keys() - running:
            del by_id[gone]
        new = running - by_id.keys()
        if new:
            for (dom, _rec), ident in zip(records, idents, strict=True):
                if ident is not None and ident in new:
                    by_id[ident] = dom
