"""Page 5, Summary: the name (checked against the host's VMs), what will be made, and
what happens after: autostart, start now, open the console. "Show XML…" shows the
definition as it will be defined. While the VM is created this page shows the
progress; Cancel works until the VM is defined."""
from __future__ import annotations

from html import escape
from xml.dom import minidom

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPlainTextEdit, QProgressBar, QPushButton,
                               QVBoxLayout)

from app.new_vm.plan import SOURCE_LABELS
from app.new_vm.validation import size_text, summary_problems
from connectors.libvirt.create_ops import Source, preview_xml

from .common import CheckedPage, connect_all


class SummaryPage(CheckedPage):
    def __init__(self, wizard) -> None:
        super().__init__(wizard, "Summary", "Name the VM and check what will be made.")
        self.name = QLineEdit()
        self.name.setObjectName("vmName")
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        self.autostart = QCheckBox("Start the VM when the host starts")
        self.autostart.setObjectName("autostart")
        self.start_now = QCheckBox("Start the VM now")
        self.start_now.setObjectName("startNow")
        self.open_console = QCheckBox("Open its console now")
        self.open_console.setObjectName("openConsole")
        self.show_xml = QPushButton("Show XML…")
        self.show_xml.setObjectName("showXml")
        self.show_xml.clicked.connect(self.open_xml)
        self.phase = QLabel()
        self.phase.setObjectName("phase")
        self.bar = QProgressBar()
        self.bar.setObjectName("progress")
        self.bar.setRange(0, 100)
        self.bar.setVisible(False)
        form = QFormLayout()
        form.addRow("Name:", self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.autostart)
        layout.addWidget(self.start_now)
        layout.addWidget(self.open_console)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.show_xml)
        layout.addLayout(row)
        layout.addStretch(1)
        layout.addWidget(self.phase)
        layout.addWidget(self.bar)
        layout.addWidget(self.problem)
        connect_all([self.name, self.autostart, self.start_now, self.open_console],
                    self.changed)
        self.start_now.toggled.connect(self.open_console.setEnabled)
        self.failure = ""
        self._filling = False

    def initializePage(self) -> None:  # noqa: N802 (Qt's name)
        plan = self.plan
        if not plan.name:
            plan.name = plan.suggested_name(self.facts.names | self.wiz.taken_names())
        self._filling = True
        self.name.setText(plan.name)
        self.start_now.setChecked(plan.start_now or plan.needs_start)
        self.start_now.setEnabled(not plan.needs_start)
        self.start_now.setToolTip("A network install starts at once: its installer boots "
                                  "only this first time." if plan.needs_start else "")
        self.autostart.setChecked(plan.autostart)
        self.open_console.setChecked(plan.open_console)
        self.open_console.setEnabled(self.start_now.isChecked())
        self._filling = False
        self.failure = ""
        self.changed()

    def read_into_plan(self) -> None:
        if self._filling:
            return
        plan = self.plan
        plan.name = self.name.text().strip()
        plan.autostart = self.autostart.isChecked()
        plan.start_now = self.start_now.isChecked()
        plan.open_console = self.open_console.isChecked() and plan.start_now
        self.summary.setText(self._describe())

    def _describe(self) -> str:
        plan = self.plan
        rows = [("Host", self.wiz.session.host_label),
                ("Source", SOURCE_LABELS[plan.source] + self._source_detail()),
                ("OS", plan.os.name if plan.os else "Generic"),
                ("Memory", size_text(plan.memory_mib << 20)),
                ("vCPUs", f"{plan.vcpus}"
                 + (f" ({plan.sockets}×{plan.cores}×{plan.threads})" if not plan.xen_pv
                    else "")),
                ("Firmware", "PV (direct kernel)" if plan.xen_pv else
                 ("UEFI" + (" with Secure Boot" if plan.secure_boot else "")
                  if plan.firmware == "efi" else "BIOS") + (", TPM 2.0" if plan.tpm else ""))]
        if plan.source in (Source.ISO, Source.URL, Source.PXE) and plan.disk_enabled:
            rows.append(("Disk", f"new {plan.disk_gib} GiB {plan.disk_format} in "
                                 f"{plan.disk_pool} ({plan.disk_bus})"))
        elif plan.source is Source.CLOUD:
            rows.append(("Disk", ("backed by" if plan.cloud_linked else "a copy of")
                         + f" the cloud image, {plan.disk_gib} GiB"))
        net = {"network": f"virtual network {plan.network_name}",
               "bridge": f"bridge {plan.network_name}", "user": "user-mode networking",
               "none": "none"}[plan.network_kind]
        rows.append(("Network", net + (f" ({plan.nic_model})" if plan.network_kind != "none"
                                       else "")))
        rows.append(("Display", plan.graphics.upper() if plan.graphics != "none" else "none"))
        return "<table>" + "".join(f"<tr><td><b>{escape(k)}:</b>&nbsp;</td>"
                                   f"<td>{escape(v)}</td></tr>" for k, v in rows) + "</table>"

    def _source_detail(self) -> str:
        plan = self.plan
        if plan.source is Source.URL:
            return f": {plan.url}"
        if plan.source in (Source.ISO, Source.IMPORT, Source.CLOUD):
            if plan.from_local:
                return f": {plan.local_path} (uploaded to {plan.upload_pool})"
            if plan.volume is not None:
                return f": {plan.volume.pool}/{plan.volume.name}"
        if plan.source is Source.KERNEL:
            return f": {plan.kernel_path}"
        return ""

    def xml_text(self) -> str:
        paths = {p.name: p.path for p in self.facts.pools}
        text = preview_xml(self.plan.to_spec(), paths)
        pretty = minidom.parseString(text).toprettyxml(indent="  ")
        return pretty.split("\n", 1)[1] if pretty.startswith("<?xml") else pretty

    def open_xml(self) -> QDialog:
        dialog = QDialog(self)
        dialog.setWindowTitle(f"XML of {self.plan.name or 'the new VM'}")
        text = QPlainTextEdit(self.xml_text())
        text.setObjectName("xml")
        text.setReadOnly(True)
        text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        layout.addWidget(buttons)
        dialog.resize(720, 560)
        dialog.open()
        self.xml_dialog = dialog
        return dialog

    def problems(self) -> list[str]:
        found = summary_problems(self.plan, self.facts, self.wiz.taken_names())
        return found or ([self.failure] if self.failure else [])

    def isComplete(self) -> bool:  # noqa: N802 (Qt's name)
        return (self.facts is not None and not self.wiz.creating
                and not summary_problems(self.plan, self.facts, self.wiz.taken_names()))

    def set_busy(self, busy: bool) -> None:
        for widget in (self.name, self.autostart, self.start_now, self.open_console):
            widget.setEnabled(not busy)
        if not busy:
            self.start_now.setEnabled(not self.plan.needs_start)
            self.open_console.setEnabled(self.start_now.isChecked())
        self.bar.setVisible(busy)
        self.completeChanged.emit()

    def show_progress(self, phase: str, fraction: float) -> None:
        self.phase.setText(phase + "…" if phase and phase != "Done" else phase)
        self.bar.setValue(int(fraction * 100))
