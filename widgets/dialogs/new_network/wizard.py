"""New Network: name and mode, addresses (or the host bridge), fixed hosts and start.

Each page says in a sentence what is wrong with it and Next stays disabled until
nothing is. The checks are the connector's own (``NetworkSpec.problems``), run against
the host's other networks, which the window reads before opening the wizard: an
overlapping subnet is refused here, before anything is defined.
"""
from __future__ import annotations

import ipaddress

from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QFormLayout, QGroupBox,
                               QLabel, QLineEdit, QRadioButton, QVBoxLayout, QWidget,
                               QWizard, QWizardPage)

from app import colours
from connectors.libvirt.net_xml import MODES, NetworkDetails, NetworkSpec, parse_subnet
from connectors.libvirt.storage_xml import name_problem

from .hosts import StaticHostsEditor


def free_subnet(others: list[NetworkDetails]) -> str:
    """The first 192.168.N.0/24 (N from 100) that no other network of the host uses."""
    taken = [s.network for o in others for s in o.subnets]
    for third in range(100, 255):
        candidate = ipaddress.ip_network(f"192.168.{third}.0/24")
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    return ""


def problem_label() -> QLabel:
    label = QLabel()
    label.setObjectName("problem")
    label.setWordWrap(True)
    label.setStyleSheet(colours.style(colours.ERROR))
    return label


class _Page(QWizardPage):
    def __init__(self, wizard: NewNetworkWizard) -> None:
        super().__init__()
        self.w = wizard
        self.problem = problem_label()

    def problems(self) -> list[str]:
        raise NotImplementedError

    def check(self) -> None:
        if not self.w.ready:
            return          # a field filled in while the wizard is still being built
        self.problem.setText("\n".join(self.problems()))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 (Qt's name)
        return not self.problems()


class NamePage(_Page):
    def __init__(self, wizard: NewNetworkWizard) -> None:
        super().__init__(wizard)
        self.setTitle("Name and kind of network")
        self.name = QLineEdit()
        self.name.setObjectName("networkName")
        self.name.setPlaceholderText("lab-net")
        self.modes = QButtonGroup(self)
        box = QGroupBox("How guests on it reach the world")
        box_layout = QVBoxLayout(box)
        for index, (mode, words) in enumerate(MODES.items()):
            button = QRadioButton(words)
            button.setObjectName(f"mode-{mode}")
            button.setProperty("mode", mode)
            self.modes.addButton(button, index)
            box_layout.addWidget(button)
        self.modes.button(0).setChecked(True)
        form = QFormLayout()
        form.addRow("&Name:", self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(box)
        layout.addWidget(self.problem)
        self.name.textChanged.connect(self.check)
        self.modes.idToggled.connect(lambda *_a: self.check())

    def mode(self) -> str:
        checked = self.modes.checkedButton()
        return str(checked.property("mode")) if checked is not None else "nat"

    def problems(self) -> list[str]:
        name = self.name.text().strip()
        found = [p for p in [name_problem(name, "network")] if p]
        if any(o.name == name for o in self.w.others):
            found.append(f"This host already has a network named {name}.")
        return found


class AddressPage(_Page):
    def __init__(self, wizard: NewNetworkWizard) -> None:
        super().__init__(wizard)
        self.setTitle("Addresses")
        self.bridge = QComboBox()
        self.bridge.setObjectName("hostBridge")
        self.bridge.setEditable(True)
        self.bridge.addItems(wizard.bridges)
        self.ipv4 = QLineEdit(free_subnet(wizard.others))
        self.ipv4.setObjectName("ipv4")
        self.dhcp = QCheckBox("Hand out addresses with &DHCP")
        self.dhcp.setChecked(True)
        self.dhcp_start, self.dhcp_end = QLineEdit(), QLineEdit()
        self.dhcp_start.setObjectName("dhcpStart")
        self.dhcp_end.setObjectName("dhcpEnd")
        self.ipv6 = QLineEdit()
        self.ipv6.setPlaceholderText("optional, e.g. fd00:1234::/64")
        self.domain = QLineEdit()
        self.domain.setPlaceholderText("optional, e.g. lab.example")
        self.bridge_form = QWidget()
        bridge_form = QFormLayout(self.bridge_form)
        bridge_form.addRow("Host &bridge:", self.bridge)
        note = QLabel("Guests join this bridge of the host directly: their addresses come "
                      "from the LAN it is on, not from libvirt." if wizard.bridges else
                      "libvirt lists no bridge on this host: create one there first "
                      "(e.g. br0 enslaving the LAN interface), or type its name.")
        note.setWordWrap(True)
        bridge_form.addRow("", note)
        self.ip_form = QWidget()
        form = QFormLayout(self.ip_form)
        form.addRow("IPv&4 subnet:", self.ipv4)
        form.addRow("", self.dhcp)
        form.addRow("DHCP &start:", self.dhcp_start)
        form.addRow("DHCP &end:", self.dhcp_end)
        form.addRow("IPv&6 subnet:", self.ipv6)
        form.addRow("DNS do&main:", self.domain)
        layout = QVBoxLayout(self)
        layout.addWidget(self.bridge_form)
        layout.addWidget(self.ip_form)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        self._suggested = ("", "")
        self.ipv4.textChanged.connect(self._suggest_range)
        for edit in (self.ipv4, self.dhcp_start, self.dhcp_end, self.ipv6, self.domain):
            edit.textChanged.connect(self.check)
        self.dhcp.toggled.connect(self._dhcp_toggled)
        self.bridge.currentTextChanged.connect(self.check)
        self._suggest_range()

    def initializePage(self) -> None:  # noqa: N802
        bridged = self.w.name_page.mode() == "bridge"
        self.bridge_form.setVisible(bridged)
        self.ip_form.setVisible(not bridged)
        self.check()

    def _dhcp_toggled(self, on: bool) -> None:
        self.dhcp_start.setEnabled(on)
        self.dhcp_end.setEnabled(on)
        self.check()

    def _suggest_range(self) -> None:
        """The upper half of the subnet, unless the user typed a range of their own."""
        try:
            net = parse_subnet(self.ipv4.text(), 4).network
        except ValueError:
            return
        hosts = net.num_addresses
        start = net.network_address + max(2, hosts // 2)
        end = net.broadcast_address - 1
        if (self.dhcp_start.text(), self.dhcp_end.text()) in (self._suggested, ("", "")):
            self._suggested = (str(start), str(end))
            self.dhcp_start.setText(str(start))
            self.dhcp_end.setText(str(end))

    def problems(self) -> list[str]:
        base = set(self.w.name_page.problems())
        return [p for p in self.w.spec(with_hosts=False).problems(self.w.others)
                if p not in base]


class HostsPage(_Page):
    def __init__(self, wizard: NewNetworkWizard) -> None:
        super().__init__(wizard)
        self.setTitle("Fixed addresses and start")
        self.setSubTitle("A guest whose MAC address is listed always gets the same address.")
        self.editor = StaticHostsEditor()
        self.start = QCheckBox("Start the network &now")
        self.start.setChecked(True)
        self.autostart = QCheckBox("Start it &whenever the host starts")
        self.autostart.setChecked(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.editor)
        layout.addWidget(self.problem)
        layout.addWidget(self.start)
        layout.addWidget(self.autostart)
        self.editor.changed.connect(self.check)

    def initializePage(self) -> None:  # noqa: N802
        page = self.w.address_page
        usable = self.w.name_page.mode() != "bridge" and page.dhcp.isChecked()
        self.editor.setEnabled(usable)
        self.check()

    def problems(self) -> list[str]:
        before = set(self.w.spec(with_hosts=False).problems(self.w.others))
        return [p for p in self.w.spec().problems(self.w.others) if p not in before]


class NewNetworkWizard(QWizard):
    """``others``: the host's networks (for the overlap check); ``bridges``: its own
    bridges (for bridge mode)."""

    def __init__(self, host_label: str, others: list[NetworkDetails], bridges: list[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"New Network on {host_label}")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.others, self.bridges = others, bridges
        self.ready = False
        self.name_page = NamePage(self)
        self.address_page = AddressPage(self)
        self.hosts_page = HostsPage(self)
        for page in (self.name_page, self.address_page, self.hosts_page):
            self.addPage(page)
        self.ready = True
        self.name_page.check()
        self.resize(620, 480)

    def spec(self, with_hosts: bool = True) -> NetworkSpec:
        mode = self.name_page.mode()
        name = self.name_page.name.text().strip()
        if mode == "bridge":
            return NetworkSpec(name, mode, bridge=self.address_page.bridge.currentText().strip())
        page = self.address_page
        dhcp = page.dhcp.isChecked()
        hosts = self.hosts_page.editor.hosts() if with_hosts and dhcp else ()
        return NetworkSpec(
            name, mode, ipv4=page.ipv4.text().strip(),
            dhcp_start=page.dhcp_start.text().strip() if dhcp else "",
            dhcp_end=page.dhcp_end.text().strip() if dhcp else "",
            hosts=hosts, ipv6=page.ipv6.text().strip(), domain=page.domain.text().strip())

    def start_now(self) -> bool:
        return self.hosts_page.start.isChecked()

    def autostart(self) -> bool:
        return self.hosts_page.autostart.isChecked()
