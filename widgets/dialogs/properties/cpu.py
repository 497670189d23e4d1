"""CPU: vCPUs online now and at most, the topology, and the CPU the guest sees."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel,
                               QSpinBox, QStyle, QWidget)

from connectors.libvirt.domxml import Topology

from widgets.dialogs.properties.base import Page, offer_item, select_data

DEFAULT = ""
MODES = (("host-passthrough", "Host CPU, passed through (host-passthrough)"),
         ("host-model", "Host CPU model (host-model)"),
         ("maximum", "Everything the hypervisor can emulate (maximum)"))


class CpuPage(Page):
    title = "CPU"
    icon = QStyle.StandardPixmap.SP_DesktopIcon

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        caps = session.data.domain
        self.limit = caps.max_vcpus if caps is not None and caps.max_vcpus > 1 else 4096
        form = QFormLayout()
        self.vcpus_spin = QSpinBox()
        self.vcpus_spin.setObjectName("vcpusSpin")
        self.vcpus_spin.setRange(1, self.limit)
        self.vcpus_spin.valueChanged.connect(self._counts_edited)
        self.row(form, "vCPUs &now:", self.vcpus_spin, "vcpus")
        self.max_spin = QSpinBox()
        self.max_spin.setObjectName("maxVcpusSpin")
        self.max_spin.setRange(1, self.limit)
        self.max_spin.valueChanged.connect(self._counts_edited)
        self.row(form, "vCPUs at &most:", self.max_spin, "max_vcpus")
        self.topology_check = QCheckBox("Set the topology by hand")
        self.topology_check.setObjectName("topologyCheck")
        self.topology_check.toggled.connect(self._topology_edited)
        self.row(form, "", self.topology_check, "topology")
        self.sockets, self.cores, self.threads = (QSpinBox(), QSpinBox(), QSpinBox())
        holder = QWidget()
        line = QHBoxLayout(holder)
        line.setContentsMargins(0, 0, 0, 0)
        for label, spin, name in (("Sockets", self.sockets, "socketsSpin"),
                                  ("Cores", self.cores, "coresSpin"),
                                  ("Threads", self.threads, "threadsSpin")):
            spin.setObjectName(name)
            spin.setRange(1, self.limit)
            spin.valueChanged.connect(self._topology_edited)
            line.addWidget(QLabel(label))
            line.addWidget(spin)
        line.addStretch(1)
        form.addRow("Topology:", holder)
        self.mode_combo = QComboBox()
        self.mode_combo.setObjectName("cpuModeCombo")
        offer_item(self.mode_combo, "The hypervisor's default", DEFAULT)
        for mode, text in MODES:
            offer = caps.cpu_mode(mode) if caps is not None else None
            offer_item(self.mode_combo, text, mode, offer.reason if offer is not None and
                       not offer else "")
        for model in (caps.cpu_models if caps is not None else ()):
            offer_item(self.mode_combo, f"Named model: {model}", f"custom:{model}")
        self.mode_combo.activated.connect(self._mode_edited)
        self.row(form, "CPU &model:", self.mode_combo, "cpu_mode")
        self.outer.addLayout(form)
        self.outer.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        dom = self.session.edited
        for spin, value in ((self.vcpus_spin, dom.vcpus), (self.max_spin, dom.max_vcpus)):
            with QSignalBlocker(spin):
                spin.setMaximum(max(self.limit, value))
                spin.setValue(value)
        top = dom.cpu.topology if dom.cpu is not None else None
        with QSignalBlocker(self.topology_check):
            self.topology_check.setChecked(top is not None)
        for spin, value in ((self.sockets, top.sockets if top else 1),
                            (self.cores, top.cores if top else 1),
                            (self.threads, top.threads if top else 1)):
            with QSignalBlocker(spin):
                spin.setValue(value)
                spin.setEnabled(top is not None)
        cpu = dom.cpu
        mode = DEFAULT
        if cpu is not None and (cpu.mode or cpu.model):
            mode = (cpu.mode or "custom") if (cpu.mode or "custom") != "custom" else \
                f"custom:{cpu.model}"
        if self.mode_combo.findData(mode) < 0 and mode.startswith("custom:"):
            offer_item(self.mode_combo, f"Named model: {mode[7:]}", mode)
        select_data(self.mode_combo, mode)
        self.show_problems()

    def problems(self) -> list[str]:
        now, most = self.vcpus_spin.value(), self.max_spin.value()
        found = []
        if now > most:
            found.append(f"{now} vCPUs now is more than the {most} at most.")
        if self.topology_check.isChecked():
            product = self.sockets.value() * self.cores.value() * self.threads.value()
            if product != most:
                found.append(f"Sockets × cores × threads is {product}; it must equal the "
                             f"vCPUs at most ({most}).")
        return found

    # ---- edits ----

    def _counts_edited(self) -> None:
        now, most = self.vcpus_spin.value(), self.max_spin.value()
        if now <= most:
            self.session.edited.set_vcpus(now, most)
        self.edited()

    def _topology_edited(self) -> None:
        manual = self.topology_check.isChecked()
        for spin in (self.sockets, self.cores, self.threads):
            spin.setEnabled(manual)
        dom = self.session.edited
        if manual:
            dom.ensure_cpu().topology = Topology(self.sockets.value(), self.cores.value(),
                                                 self.threads.value())
        elif dom.cpu is not None:
            dom.cpu.topology = None
            self._tidy()
        self.edited()

    def _mode_edited(self) -> None:
        mode = self.mode_combo.currentData()
        dom = self.session.edited
        if mode == DEFAULT:
            if dom.cpu is not None:
                for attr in ("mode", "match", "check", "migratable"):
                    dom.cpu.element.attrib.pop(attr, None)
                dom.cpu.drop("model")
                dom.cpu.drop("vendor")
                self._tidy()
        elif mode.startswith("custom:"):
            dom.ensure_cpu().set_mode("custom", mode[7:])
        else:
            dom.ensure_cpu().set_mode(mode)
        self.edited()

    def _tidy(self) -> None:
        """An empty ``<cpu/>`` the page made goes again."""
        dom = self.session.edited
        cpu = dom.cpu
        if cpu is not None and not cpu.element.attrib and not len(cpu.element):
            dom.drop("cpu")
