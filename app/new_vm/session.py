"""One New VM wizard's work with its host: reading what the host offers, identifying the
install medium or tree, and creating the VM as one task.

Everything slow runs off the Qt thread: libvirt calls in the host's worker pool, the
osinfo database, local ISOs and HTTP trees in a thread. Creating is one Task (status
bar and Events) with progress; it can be cancelled until the domain is defined, and
what a failed or cancelled creation made is removed by the connector before the task
ends (create_ops.py).
"""
from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QObject, Signal

from app.actions.new_vm import CreateVM, CreatingHost
from app.tasks import Task, TaskManager
from connectors.libvirt import install_tree, iso9660, osinfo
from connectors.libvirt.create_ops import Source
from connectors.libvirt.host_facts import HostFacts
from connectors.libvirt.model import ActionError

from .plan import VmPlan
from .running import CreationRunner

log = logging.getLogger(__name__)


async def load_osdb() -> osinfo.OsDb:
    return await asyncio.to_thread(osinfo.load_default)


class NewVmSession(CreationRunner):
    """Signals: ``ready(error)`` once facts and the OS database are in (error "" when
    fine), ``mediaChecked()`` after an ISO or tree was looked at (the plan holds the
    result), ``progress(phase, fraction)`` while creating, ``finished(key, error)``."""

    ready = Signal(str)
    mediaChecked = Signal()  # noqa: N815 (Qt signal names are camelCase here)

    def __init__(self, host: CreatingHost, tasks: TaskManager, host_label: str,
                 parent: QObject | None = None) -> None:
        super().__init__(tasks, parent)
        self.host = host
        self.host_label = host_label
        self.facts: HostFacts | None = None
        self.osdb: osinfo.OsDb | None = None
        self.error = ""
        self._check_serial = 0

    async def load(self) -> None:
        try:
            self.facts, self.osdb = await asyncio.gather(self.host.new_vm_facts(),
                                                         load_osdb())
        except ActionError as err:
            self.error = str(err)
        except OSError as err:
            self.error = f"The operating system database could not be read: {err}"
        self.ready.emit(self.error)

    # ---- identifying the install medium ----

    async def check_media(self, plan: VmPlan) -> None:
        """Reads the chosen ISO's labels (here, or through the connection) or probes the
        tree; fills plan.media/media_error or plan.tree/tree_error and, when it knows
        the OS, plan.os. A newer check supersedes an older one still running."""
        self._check_serial += 1
        serial = self._check_serial
        plan.media, plan.media_error, plan.tree, plan.tree_error = None, "", None, ""
        try:
            if plan.source is Source.URL:
                if plan.url and self.osdb is not None:
                    tree = await asyncio.to_thread(install_tree.probe, plan.url, self.osdb)
                    if serial == self._check_serial:
                        plan.tree = tree
                        self._detected(plan, tree.os)
            elif plan.source is Source.ISO:
                facts = await self._read_iso(plan)
                if serial == self._check_serial and facts is not None:
                    plan.media = facts
                    found = self.osdb.identify_disc(facts.label) if self.osdb else None
                    self._detected(plan, found)
            elif plan.source in (Source.IMPORT, Source.CLOUD) and plan.from_local:
                await asyncio.to_thread(_readable, plan.local_path)
        except install_tree.TreeError as err:
            if serial == self._check_serial:
                plan.tree_error = str(err)
        except (iso9660.NotAnIso, ActionError) as err:
            if serial == self._check_serial:
                plan.media_error = str(err)
        except OSError as err:
            if serial == self._check_serial:
                plan.media_error = f"Cannot read {plan.local_path}: {err.strerror or err}."
        if serial == self._check_serial:
            plan.checking = False
            self.mediaChecked.emit()

    async def _read_iso(self, plan: VmPlan) -> iso9660.IsoFacts | None:
        if plan.from_local:
            if not plan.local_path:
                return None
            return await asyncio.to_thread(iso9660.read_local, plan.local_path)
        if plan.volume is None:
            return None
        head = await self.host.volume_head(plan.volume.pool, plan.volume.name)
        return iso9660.read_head(head, plan.volume.name)

    @staticmethod
    def _detected(plan: VmPlan, entry: osinfo.OsEntry | None) -> None:
        if entry is not None:
            plan.os, plan.os_detected = entry, True
        elif plan.os_detected:
            plan.os, plan.os_detected = None, False

    # ---- creating ----

    def create(self, plan: VmPlan) -> Task:
        """Starts the creation (an action, one task); returns the Task."""
        action = CreateVM(self.host, self.host_label, plan.to_spec(), self.progress.emit)
        return self.run(action, "Creating the VM was cancelled; nothing was left behind.")


def _readable(path: str) -> None:
    with open(path, "rb") as src:
        src.read(512)
