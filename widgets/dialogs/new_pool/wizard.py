"""New Storage Pool: name and type, where the storage is, and what to do with it now.

Only the types the host's libvirt offers can be chosen; the others are listed greyed
with the host's reason (``HostCapabilities.pool_type``). Each page says in a sentence
what is wrong with it (the connector's own ``PoolSpec.problems``) and Next waits until
nothing is. "Find" asks the host (findStoragePoolSources) for NFS exports, iSCSI
targets or volume groups; a server that does not answer is a sentence under the field.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget, QWizard, QWizardPage)
from PySide6.QtCore import Qt

from app import colours
from connectors.libvirt.capabilities import Offer
from connectors.libvirt.model import ConnectorError
from connectors.libvirt.storage_ops import NewPool
from connectors.libvirt.storage_xml import POOL_TYPES, PoolSource, PoolSpec, name_problem
from widgets.dialogs.new_network.wizard import problem_label

FindSources = Callable[[str, str, int, str], Awaitable[list[PoolSource]]]

# What "build" does to each type, in words that say what is destroyed.
BUILD_WORDS = {
    "dir": ("Create the &directory if it does not exist", False),
    "fs": ("&Format the device with a new filesystem (erases everything on it)", True),
    "logical": ("Create the volume &group on the device (erases everything on it)", True),
}
DEFAULT_TARGETS = {"dir": "/var/lib/libvirt/images/{name}", "fs": "/mnt/{name}",
                   "netfs": "/mnt/{name}"}


class TypePage(QWizardPage):
    def __init__(self, wizard: NewPoolWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Name and type")
        self.name = QLineEdit()
        self.name.setObjectName("poolName")
        self.name.setPlaceholderText("images")
        self.types = QListWidget()
        self.types.setObjectName("poolTypes")
        for kind, words in POOL_TYPES.items():
            offer = wizard.offers.get(kind, Offer(False, "This host's libvirt has no "
                                                         f"{kind} storage pool backend."))
            item = QListWidgetItem(words if offer else f"{words} — not available")
            item.setData(Qt.ItemDataRole.UserRole, kind)
            if not offer:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled
                              & ~Qt.ItemFlag.ItemIsSelectable)
                item.setToolTip(offer.reason)
            self.types.addItem(item)
        first = next((i for i in range(self.types.count())
                      if self.types.item(i).flags() & Qt.ItemFlag.ItemIsEnabled), -1)
        self.types.setCurrentRow(first)
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.problem = problem_label()
        form = QFormLayout()
        form.addRow("&Name:", self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        type_label = QLabel("&Type:")
        type_label.setBuddy(self.types)
        layout.addWidget(type_label)
        layout.addWidget(self.types)
        layout.addWidget(self.reason)
        layout.addWidget(self.problem)
        self.name.textChanged.connect(self.check)
        self.types.currentRowChanged.connect(lambda _row: self.check())
        self.types.itemClicked.connect(self._explain)
        self.check()

    def _explain(self, item: QListWidgetItem) -> None:
        self.reason.setText(item.toolTip())

    def kind(self) -> str:
        item = self.types.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def problems(self) -> list[str]:
        found = [p for p in [name_problem(self.name.text().strip(), "pool")] if p]
        if self.name.text().strip() in self.w.existing:
            found.append(f"This host already has a pool named {self.name.text().strip()}.")
        if not self.kind():
            found.append("This host offers none of the pool types HVConsole knows.")
        unavailable = [i.toolTip() for i in (self.types.item(r) for r in
                       range(self.types.count())) if i.toolTip()]
        self.reason.setText("Not available here: " + " ".join(sorted(set(unavailable)))
                            if unavailable else "")
        return found

    def check(self) -> None:
        self.problem.setText("\n".join(self.problems()))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return not self.problems()


class SourcePage(QWizardPage):
    """One form; the rows a type does not use are hidden."""

    def __init__(self, wizard: NewPoolWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Where the storage is")
        self.target = QLineEdit()
        self.target.setObjectName("targetPath")
        self.device = QLineEdit()
        self.device.setObjectName("sourceDevice")
        self.device.setPlaceholderText("/dev/sdb1")
        self.format = QComboBox()
        self.host = QLineEdit()
        self.host.setObjectName("sourceHost")
        self.host.setPlaceholderText("nas.example or 192.0.2.10")
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setSpecialValueText("default")
        self.export = QComboBox()
        self.export.setObjectName("sourceDir")
        self.export.setEditable(True)
        self.vg = QComboBox()
        self.vg.setEditable(True)
        self.iqn = QComboBox()
        self.iqn.setObjectName("targetIqn")
        self.iqn.setEditable(True)
        self.initiator = QLineEdit(wizard.initiator)
        self.find_button = QPushButton("&Find")
        self.find_button.setObjectName("findSources")
        self.find_button.clicked.connect(self.find_sources_now)
        self.found = QLabel()
        self.found.setWordWrap(True)
        self.problem = problem_label()
        host_row = QWidget()
        host_layout = QHBoxLayout(host_row)
        host_layout.setContentsMargins(0, 0, 0, 0)
        host_layout.addWidget(self.host, 1)
        host_layout.addWidget(QLabel("Port:"))
        host_layout.addWidget(self.port)
        self.form = QFormLayout()
        self.rows: dict[str, QWidget] = {
            "host": host_row, "find": self.find_button, "export": self.export, "iqn": self.iqn,
            "initiator": self.initiator, "device": self.device, "vg": self.vg,
            "format": self.format, "target": self.target}
        labels = {"host": "&Server:", "export": "&Export:", "iqn": "Target &IQN:",
                  "initiator": "&Initiator IQN:", "device": "&Device:",
                  "vg": "&Volume group:", "format": "F&ormat:",
                  "target": "&Target directory:", "find": ""}
        for key, widget in self.rows.items():
            self.form.addRow(labels[key], widget)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.found)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        for edit in (self.target, self.device, self.host, self.initiator):
            edit.textChanged.connect(self.check)
        for box in (self.export, self.vg, self.iqn, self.format):
            box.currentTextChanged.connect(self.check)
        self.port.valueChanged.connect(self.check)

    USES = {
        "dir": ("target",),
        "fs": ("device", "format", "target"),
        "netfs": ("host", "export", "find", "format", "target"),
        "logical": ("vg", "device", "find"),
        "iscsi": ("host", "iqn", "find"),
        "iscsi-direct": ("host", "iqn", "initiator", "find"),
    }

    def initializePage(self) -> None:  # noqa: N802
        kind = self.w.type_page.kind()
        name = self.w.type_page.name.text().strip()
        for key, widget in self.rows.items():
            self.form.setRowVisible(widget, key in self.USES[kind])
        self.format.clear()
        self.format.addItems({"fs": ["auto", "ext4", "xfs", "btrfs", "ext3"],
                              "netfs": ["auto", "nfs"]}.get(kind, []))
        if kind in DEFAULT_TARGETS and not self.target.text():
            self.target.setText(DEFAULT_TARGETS[kind].format(name=name))
        if kind == "logical" and not self.vg.currentText():
            self.vg.setEditText(name)
        self.find_button.setText({"netfs": "&Find exports on the server",
                                  "logical": "&Find volume groups on the host"}.get(
                                      kind, "&Find targets on the server"))
        self.device.setPlaceholderText("/dev/sdb1" if kind == "fs" else
                                       "optional: /dev/sdc (for building the group)")
        self.found.setText("")
        self.check()

    def find_sources_now(self) -> None:
        kind = self.w.type_page.kind()
        self.found.setText("Asking…")
        self.find_button.setEnabled(False)
        self._finding = asyncio.ensure_future(self._find(kind))

    async def _find(self, kind: str) -> None:
        try:
            sources = await self.w.find_sources(kind, self.host.text().strip(),
                                                self.port.value(),
                                                self.initiator.text().strip())
        except ConnectorError as err:
            self.found.setText(str(err))
            return
        finally:
            self.find_button.setEnabled(True)
        box = {"netfs": self.export, "logical": self.vg}.get(kind, self.iqn)
        box.clear()
        box.addItems([s.dir if kind == "netfs" else (s.name or s.device) for s in sources])
        self.found.setText(f"Found {len(sources)}: " + ", ".join(s.label for s in sources)
                           if sources else "The host found nothing there.")

    def problems(self) -> list[str]:
        base = set(self.w.type_page.problems())
        return [p for p in self.w.spec().problems() if p not in base]

    def check(self) -> None:
        self.problem.setText("\n".join(self.problems()))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return not self.problems()


class OptionsPage(QWizardPage):
    def __init__(self, wizard: NewPoolWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Now")
        self.build = QCheckBox()
        self.build.setObjectName("build")
        self.start = QCheckBox("&Start the pool now")
        self.start.setChecked(True)
        self.autostart = QCheckBox("Start it &whenever the host starts")
        self.autostart.setChecked(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.build)
        layout.addWidget(self.start)
        layout.addWidget(self.autostart)
        layout.addWidget(self.summary)
        layout.addStretch(1)

    def initializePage(self) -> None:  # noqa: N802
        kind = self.w.type_page.kind()
        words, destructive = BUILD_WORDS.get(kind, ("", False))
        self.build.setVisible(bool(words))
        self.build.setText(words)
        self.build.setChecked(kind == "dir")
        self.build.setStyleSheet(colours.style(colours.ERROR) if destructive else "")
        spec = self.w.spec()
        self.summary.setText(f"{spec.name}: {POOL_TYPES[spec.type]}"
                             + (f", volumes in {spec.target_path}" if spec.target_path
                                else ""))


class NewPoolWizard(QWizard):
    """``offers``: pool type → Offer from the host's capabilities; ``existing``: the
    host's pool names; ``find_sources(type, server, port, initiator)`` asks the host."""

    def __init__(self, host_label: str, offers: dict[str, Offer], existing: set[str],
                 find_sources: FindSources, initiator: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"New Storage Pool on {host_label}")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.offers, self.existing = offers, existing
        self.find_sources = find_sources
        self.initiator = initiator
        self.type_page = TypePage(self)
        self.source_page = SourcePage(self)
        self.options_page = OptionsPage(self)
        for page in (self.type_page, self.source_page, self.options_page):
            self.addPage(page)
        self.resize(640, 500)

    def spec(self) -> PoolSpec:
        kind = self.type_page.kind()
        page = self.source_page
        uses = SourcePage.USES.get(kind, ())
        return PoolSpec(
            name=self.type_page.name.text().strip(), type=kind,
            target_path=page.target.text().strip() if "target" in uses else "",
            source_device=page.device.text().strip() if "device" in uses else "",
            source_format=page.format.currentText() if "format" in uses else "",
            source_host=page.host.text().strip() if "host" in uses else "",
            source_port=page.port.value() if "host" in uses else 0,
            source_dir=page.export.currentText().strip() if "export" in uses else "",
            source_name=page.vg.currentText().strip() if "vg" in uses else "",
            target_iqn=page.iqn.currentText().strip() if "iqn" in uses else "",
            initiator_iqn=page.initiator.text().strip() if "initiator" in uses else "")

    def new_pool(self) -> NewPool:
        kind = self.type_page.kind()
        build = self.options_page.build.isChecked() and kind in BUILD_WORDS
        return NewPool(self.spec(), build=build, overwrite=build and kind != "dir",
                       start=self.options_page.start.isChecked(),
                       autostart=self.options_page.autostart.isChecked())
