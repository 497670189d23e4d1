"""Edit DHCP of a network: its IPv4 range and fixed hosts, applied live (when it runs)
and to its definition, without restarting it."""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLineEdit,
                               QVBoxLayout, QWidget)

from connectors.libvirt.net_xml import NetworkDetails, NetworkSpec, StaticHost

from .hosts import StaticHostsEditor
from .wizard import problem_label


class DhcpDialog(QDialog):
    def __init__(self, details: NetworkDetails, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.details = details
        self.setWindowTitle(f"DHCP of {details.name}")
        self.subnet = next((str(s) for s in details.subnets if s.version == 4), "")
        start, end = details.dhcp_ranges[0] if details.dhcp_ranges else ("", "")
        self.start, self.end = QLineEdit(start), QLineEdit(end)
        self.editor = StaticHostsEditor()
        self.editor.set_hosts(details.hosts)
        form = QFormLayout()
        form.addRow("Subnet:", QLineEdit(self.subnet, readOnly=True))
        form.addRow("Range &start:", self.start)
        form.addRow("Range &end:", self.end)
        self.problem = problem_label()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.editor)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        for edit in (self.start, self.end):
            edit.textChanged.connect(self.check)
        self.editor.changed.connect(self.check)
        self.resize(560, 420)
        self.check()

    def values(self) -> tuple[str, str, tuple[StaticHost, ...]]:
        return self.start.text().strip(), self.end.text().strip(), self.editor.hosts()

    def problems(self) -> list[str]:
        if not self.subnet:
            return [f"The network {self.details.name} has no IPv4 subnet."]
        start, end, hosts = self.values()
        if bool(start) != bool(end):
            return ["A DHCP range needs both its start and its end."]
        return NetworkSpec(self.details.name, "nat", ipv4=self.subnet, dhcp_start=start,
                           dhcp_end=end, hosts=hosts).problems()

    def check(self) -> None:
        problems = self.problems()
        self.problem.setText("\n".join(problems))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problems)
