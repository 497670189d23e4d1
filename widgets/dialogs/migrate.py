"""Migrate…: where the VMs go, how, and what would stop them, before anything moves.

One dialog for one VM or several (each becomes a migration of its own). The destination
list holds every other server; those that cannot take the VMs are listed greyed with the
reason. Choosing one reads both hosts once (app.migration.PreCheck); every change of an
option re-runs the pure pre-check on what was read, so the list of problems under the
options is always current and Migrate is enabled only when nothing blocks. The disks
that only exist on the source are listed with the pool each is copied to.

Tunnelled migration is peer-to-peer: the source's libvirtd opens the destination
itself, so the dialog shows the URI it will use (editable, remembered per destination)
and what the source needs for it (app: connectors.libvirt.migration_check.peer_access).
"""
from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass, replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog,
                               QDialogButtonBox, QFormLayout, QGroupBox, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QPushButton,
                               QRadioButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app import colours
from app.migration import MigrationRequest, MigrationService, PreCheck
from connectors.libvirt.migration import MigrationOptions, size_text
from connectors.libvirt.migration_check import Problem, peer_access
from connectors.libvirt.model import ActionError, VMInfo

TLS_TIP = ("Encrypt QEMU's migration stream with TLS. Both hosts need QEMU's TLS "
           "certificates (/etc/pki/qemu, or migrate_tls_x509_cert_dir in qemu.conf); "
           "libvirt refuses the migration when one of them has none.")
TUNNEL_TIP = ("Send the VM through the libvirtd connection between the two hosts instead "
              "of a direct QEMU connection: one port to open, and encrypted when that "
              "connection is (SSH or TLS). The source's libvirtd opens the destination "
              "itself.")
POST_COPY_TIP = ("When the memory copy does not converge (the guest writes memory faster "
                 "than the link carries it), switch to post-copy: the VM runs on the "
                 "destination at once and fetches what is missing. Once switched, the "
                 "migration cannot be cancelled, and a link failure then loses the VM.")
ADDRESS_TIP = ("The address the source's QEMU connects to for the memory and disk copy "
               "(tcp://ADDRESS). Empty: the destination's host name, which must resolve "
               "to an address the source can reach. Remembered for this destination.")


@dataclass
class _Vm:
    source: str                 # conn_id
    vm: VMInfo
    pre: PreCheck | None = None
    error: str = ""


class MigrateDialog(QDialog):
    """``checked()`` whenever the pre-check of every VM has come back."""

    checked = Signal()

    def __init__(self, service: MigrationService, vms: list[tuple[str, VMInfo]],
                 dest: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.vms = [_Vm(conn_id, vm) for conn_id, vm in vms]
        self._job: asyncio.Task | None = None
        self._pools: dict[tuple[int, str], QComboBox] = {}
        names = ", ".join(v.vm.name for v in self.vms[:3]) + (
            f" and {len(self.vms) - 3} more" if len(self.vms) > 3 else "")
        self.setWindowTitle(f"Migrate {self.vms[0].vm.name}" if len(self.vms) == 1
                            else f"Migrate {len(self.vms)} VMs")
        self.setObjectName("migrateDialog")
        self.setMinimumWidth(640)

        sources = {self.service.manager.label(v.source) for v in self.vms}
        self.intro = QLabel(f"Move {names} from {', '.join(sorted(sources))} to:")
        self.intro.setWordWrap(True)
        self.dest_box = QComboBox()
        self.dest_box.setObjectName("destinationBox")
        self.mode_label = QLabel()
        self.mode_label.setObjectName("modeLabel")
        self.mode_label.setWordWrap(True)

        self.copy_box = QCheckBox("Copy the disks that only this host has to the "
                                  "destination")
        self.copy_box.setObjectName("copyStorage")
        self.disk_table = QTableWidget(0, 3)
        self.disk_table.setObjectName("diskTable")
        self.disk_table.setHorizontalHeaderLabels(["Disk", "Size", "Destination pool"])
        self.disk_table.verticalHeader().setVisible(False)
        self.disk_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.disk_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.disk_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        storage = QGroupBox("Storage")
        storage_layout = QVBoxLayout(storage)
        self.remove_disks = QCheckBox("Then delete them here (the VM runs from the copies)")
        self.remove_disks.setObjectName("removeSourceDisks")
        self.remove_disks.setChecked(True)
        storage_layout.addWidget(self.copy_box)
        storage_layout.addWidget(self.disk_table)
        storage_layout.addWidget(self.remove_disks)

        self.move_definition = QRadioButton("Move the VM's definition to the destination")
        self.keep_definition = QRadioButton("Keep it defined here too (shut off)")
        self.move_definition.setChecked(True)
        definition = QGroupBox("Definition")
        definition_layout = QVBoxLayout(definition)
        definition_layout.addWidget(self.move_definition)
        definition_layout.addWidget(self.keep_definition)

        self.bandwidth = QSpinBox()
        self.bandwidth.setObjectName("bandwidth")
        self.bandwidth.setRange(0, 100_000)
        self.bandwidth.setSuffix(" MiB/s")
        self.bandwidth.setSpecialValueText("Unlimited")
        self.auto_converge = QCheckBox("Auto-converge (slow the guest down if it dirties "
                                       "memory too fast)")
        self.post_copy = QCheckBox("Switch to post-copy if it does not converge")
        self.post_copy.setToolTip(POST_COPY_TIP)
        self.tls = QCheckBox("Encrypt the migration stream (TLS)")
        self.tls.setToolTip(TLS_TIP)
        self.tunnelled = QCheckBox("Tunnel through libvirtd (peer-to-peer)")
        self.tunnelled.setObjectName("tunnelled")
        self.tunnelled.setToolTip(TUNNEL_TIP)
        self.peer_uri = QLineEdit()
        self.peer_uri.setObjectName("peerUri")
        self.peer_uri.setPlaceholderText("qemu+ssh://root@destination/system")
        self.address = QLineEdit()
        self.address.setObjectName("migrationAddress")
        self.address.setPlaceholderText("the destination's host name")
        self.address.setToolTip(ADDRESS_TIP)
        options = QGroupBox("Options")
        form = QFormLayout(options)
        form.addRow("Bandwidth limit:", self.bandwidth)
        form.addRow("", self.auto_converge)
        form.addRow("", self.post_copy)
        form.addRow("", self.tls)
        form.addRow("", self.tunnelled)
        form.addRow("Source opens:", self.peer_uri)
        form.addRow("Destination address:", self.address)
        self.options_group = options

        self.check_label = QLabel()
        self.check_label.setObjectName("precheck")
        self.check_label.setWordWrap(True)
        self.check_label.setTextFormat(Qt.TextFormat.RichText)
        self.check_label.setMinimumHeight(40)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.migrate_button = self.buttons.addButton(
            "Migrate", QDialogButtonBox.ButtonRole.AcceptRole)
        self.migrate_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        top = QHBoxLayout()
        top.addWidget(self.dest_box, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(top)
        layout.addWidget(self.mode_label)
        layout.addWidget(storage)
        layout.addWidget(definition)
        layout.addWidget(options)
        layout.addWidget(self.check_label)
        layout.addWidget(self.buttons)

        self._fill_destinations(dest)
        for signal in (self.copy_box.toggled, self.move_definition.toggled,
                       self.remove_disks.toggled,
                       self.auto_converge.toggled, self.post_copy.toggled,
                       self.tls.toggled, self.tunnelled.toggled,
                       self.bandwidth.valueChanged, self.peer_uri.textChanged,
                       self.address.textChanged):
            signal.connect(self._evaluate)
        self.dest_box.currentIndexChanged.connect(self._dest_changed)
        self._dest_changed()
        self.dest_box.setFocus(Qt.FocusReason.OtherFocusReason)

    # ---- destinations ----

    def _fill_destinations(self, preferred: str | None) -> None:
        sources = {v.source for v in self.vms}
        first = next(iter(sources))
        model = QStandardItemModel(self.dest_box)
        self.dest_box.setModel(model)
        self._dest_model = model
        chosen = -1
        for conn_id, label, why in self.service.destinations(first):
            why = why or next((self.service.why_not_destination(s, conn_id)
                               for s in sources if self.service.why_not_destination(
                                   s, conn_id)), "")
            self.dest_box.addItem(label if not why else f"{label} — {why}", conn_id)
            item = model.item(self.dest_box.count() - 1)
            if why:
                item.setEnabled(False)
                item.setToolTip(why)
            elif chosen < 0 or conn_id == preferred:
                chosen = self.dest_box.count() - 1
        if chosen >= 0:
            self.dest_box.setCurrentIndex(chosen)
        else:
            self.dest_box.setCurrentIndex(-1)

    @property
    def dest(self) -> str | None:
        index = self.dest_box.currentIndex()
        item = self._dest_model.item(index) if index >= 0 else None
        if item is None or not item.isEnabled():
            return None
        return self.dest_box.itemData(index)

    def _dest_changed(self, *_args) -> None:
        if self._job is not None and not self._job.done():
            self._job.cancel()
        for entry in self.vms:
            entry.pre, entry.error = None, ""
        dest = self.dest
        if dest is None:
            self._show([], "No server can take these VMs now: add one, or connect it.")
            return
        uri = self.service.manager.host(dest).uri
        self.address.setText(self.service.host_settings.migration_address(uri))
        self.peer_uri.setText(self.service.peer_uri(dest))
        self._show([], "Checking…")
        self._job = asyncio.ensure_future(self._check(dest))

    async def _check(self, dest: str) -> None:
        async def one(entry: _Vm) -> None:
            try:
                entry.pre = await self.service.precheck(entry.source, entry.vm.key, dest)
            except ActionError as err:
                entry.error = str(err)
        await asyncio.gather(*(one(entry) for entry in self.vms))
        if dest != self.dest:
            return
        self._fill_disks(dest)
        self._evaluate()
        self.checked.emit()

    # ---- disks ----

    def _fill_disks(self, dest: str) -> None:
        self._pools.clear()
        self.disk_table.setRowCount(0)
        any_local = False
        for n, entry in enumerate(self.vms):
            if entry.pre is None:
                continue
            defaults = dict(self.service.default_options(entry.pre, dest).copy_storage)
            targets = entry.pre.dest.copy_targets()
            for disk in entry.pre.vm.local_disks():
                any_local = True
                row = self.disk_table.rowCount()
                self.disk_table.insertRow(row)
                label = disk.target if len(self.vms) == 1 else \
                    f"{entry.vm.name}: {disk.target}"
                item = QTableWidgetItem(f"{label}  {disk.path or ''}")
                item.setToolTip(disk.path or "")
                self.disk_table.setItem(row, 0, item)
                self.disk_table.setItem(row, 1, QTableWidgetItem(size_text(disk.capacity)))
                box = QComboBox()
                for pool in targets:
                    box.addItem(f"{pool.name} ({size_text(pool.available)} free)",
                                pool.name)
                if defaults.get(disk.target):
                    box.setCurrentIndex(max(0, box.findData(defaults[disk.target])))
                box.currentIndexChanged.connect(self._evaluate)
                self.disk_table.setCellWidget(row, 2, box)
                self._pools[(n, disk.target)] = box
        self.copy_box.blockSignals(True)
        self.copy_box.setChecked(any_local)
        self.copy_box.setEnabled(any_local)
        self.copy_box.blockSignals(False)
        self.disk_table.setVisible(any_local)
        rows = sum(self.disk_table.rowHeight(r) for r in range(self.disk_table.rowCount()))
        self.disk_table.setFixedHeight(min(160, self.disk_table.horizontalHeader().height()
                                           + rows + 2 * self.disk_table.frameWidth()))
        if not any_local:
            self.copy_box.setText("Nothing to copy: every disk is on storage both hosts "
                                  "share")
        else:
            self.copy_box.setText("Copy the disks that only this host has to the "
                                  "destination")

    # ---- options and the verdict ----

    def options_for(self, n: int) -> MigrationOptions | None:
        entry = self.vms[n]
        dest = self.dest
        if entry.pre is None or dest is None:
            return None
        base = self.service.default_options(entry.pre, dest)
        copies: tuple[tuple[str, str], ...] = ()
        if self.copy_box.isChecked():
            copies = tuple((target, box.currentData()) for (i, target), box in
                           self._pools.items() if i == n and box.currentData())
        return replace(
            base, copy_storage=copies,
            keep_source_definition=self.keep_definition.isChecked(),
            remove_source_disks=bool(copies) and self.remove_disks.isChecked()
            and self.move_definition.isChecked(),
            bandwidth_mib_s=self.bandwidth.value(),
            auto_converge=self.auto_converge.isChecked(),
            post_copy=self.post_copy.isChecked(), tls=self.tls.isChecked(),
            tunnelled=self.tunnelled.isChecked(),
            peer_uri=self.peer_uri.text().strip(),
            dest_address=self.address.text().strip())

    def problems(self) -> list[tuple[str, Problem]]:
        """(VM name, problem) for every VM, blocking ones first."""
        found: list[tuple[str, Problem]] = []
        dest = self.dest
        for n, entry in enumerate(self.vms):
            if entry.error:
                found.append((entry.vm.name, Problem(entry.error)))
                continue
            options = self.options_for(n)
            if entry.pre is None or options is None:
                continue
            found += [(entry.vm.name, p) for p in entry.pre.problems(options)]
            if options.tunnelled and dest is not None:
                source = self.service.manager.host(entry.source).uri
                found.append((entry.vm.name, peer_access(
                    source, options.peer_uri, self.service.manager.label(entry.source),
                    self.service.manager.label(dest))))
        return sorted(found, key=lambda f: not f[1].blocking)

    def _evaluate(self, *_args) -> None:
        tunnel = self.tunnelled.isChecked()
        self.peer_uri.setEnabled(tunnel)
        self.address.setEnabled(not tunnel)
        self.disk_table.setEnabled(self.copy_box.isChecked())
        self.remove_disks.setEnabled(self.copy_box.isChecked() and
                                     self.move_definition.isChecked())
        self.remove_disks.setVisible(self.disk_table.rowCount() > 0)
        live = [e for e in self.vms if e.pre is not None and e.pre.vm.live]
        offline = [e for e in self.vms if e.pre is not None and not e.pre.vm.live]
        for box in (self.auto_converge, self.post_copy, self.tls, self.tunnelled):
            box.setEnabled(bool(live))
        self.mode_label.setText(_mode_text(live, offline))
        if self.dest is None or any(e.pre is None and not e.error for e in self.vms):
            return
        self._show(self.problems(), "")

    def _show(self, problems: list[tuple[str, Problem]], status: str) -> None:
        blocked = any(p.blocking for _n, p in problems) or bool(status)
        self.migrate_button.setEnabled(not blocked)
        if status:
            self.check_label.setText(html.escape(status))
            return
        if not problems:
            self.check_label.setText(f"<span style='color:{colours.hex_colour(colours.SUCCESS)}'>"
                                     "✔ Ready to migrate.</span>")
            return
        many = len(self.vms) > 1
        lines = []
        for name, problem in problems:
            mark, colour = (("✖", colours.hex_colour(colours.ERROR)) if problem.blocking
                            else ("⚠", colours.hex_colour(colours.WARNING)))
            text = f"{name}: {problem.reason}" if many else problem.reason
            lines.append(f"<span style='color:{colour}'>{mark}</span> {html.escape(text)}")
        self.check_label.setText("<br>".join(lines))

    def blocked(self) -> bool:
        return not self.migrate_button.isEnabled()

    def accept(self) -> None:
        if not self.blocked():
            super().accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Enter migrates, unless something blocks: then it does nothing (Qt would hand
        it to Cancel, the next "auto default" button, and close the dialog)."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                not isinstance(self.focusWidget(), QPushButton):
            self.accept()
            return
        super().keyPressEvent(event)

    # ---- the answer ----

    def requests(self) -> list[MigrationRequest]:
        dest = self.dest
        if dest is None:
            return []
        found = []
        for n, entry in enumerate(self.vms):
            options = self.options_for(n)
            if options is not None:
                found.append(MigrationRequest(entry.source, entry.vm.key, dest, options,
                                              entry.vm.name))
        return found

    def remember(self) -> None:
        """The destination's address and peer URI, for the next migration there."""
        dest = self.dest
        if dest is None:
            return
        uri = self.service.manager.host(dest).uri
        settings = self.service.host_settings
        settings.set_migration_address(uri, self.address.text())
        if self.tunnelled.isChecked():
            peer = self.peer_uri.text().strip()
            settings.set_peer_uri(uri, "" if peer == uri else peer)

    def done(self, result: int) -> None:  # noqa: D102 - QDialog's
        if self._job is not None and not self._job.done():
            self._job.cancel()
        super().done(result)


def _mode_text(live: list[_Vm], offline: list[_Vm]) -> str:
    if live and offline:
        return (f"{len(live)} running VMs move live (they keep running); {len(offline)} "
                "shut-off ones move offline (their definition and disks).")
    if live:
        if len(live) == 1:
            return (f"Live migration: {live[0].vm.name} keeps running while its memory is "
                    "copied, then pauses for a moment as it switches over.")
        return "Live migration: the VMs keep running while their memory is copied."
    if offline:
        return ("Offline migration: the definition and the disks move; the VM stays shut "
                "off." if len(offline) == 1 else
                "Offline migration: definitions and disks move; the VMs stay shut off.")
    return ""
