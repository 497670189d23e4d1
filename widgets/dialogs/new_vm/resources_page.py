"""Page 3, Resources: hypervisor, memory, vCPUs and their topology, firmware, TPM.

What the host cannot give is disabled with its reason (from the host's domain
capabilities); a value above what it has is refused in words under the page.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel,
                               QSpinBox, QVBoxLayout)

from app.new_vm.validation import hypervisors, resources_problems, size_text

from .common import (CheckedPage, add_item, connect_all, enabled_at, note_label,
                     select_data)

CPU_MODES = (("host-passthrough", "The host's CPU (fastest; the VM stays on like hosts)"),
             ("host-model", "A model like the host's (migrates to more hosts)"),
             ("default", "The hypervisor's default model (the most compatible)"))


def key(kind: tuple[str, str]) -> str:
    """Combobox data as a string: Qt keeps a Python tuple as a list, which findData
    never matches."""
    return ":".join(kind)


def kind_of(data: str | None) -> tuple[str, str] | None:
    if not data:
        return None
    domain_type, _, os_type = data.partition(":")
    return domain_type, os_type


LABELS = {("kvm", "hvm"): "KVM (hardware virtualization)",
          ("qemu", "hvm"): "QEMU (emulation, no KVM: slow)",
          ("xen", "xen"): "Xen paravirtualized (PV)",
          ("xen", "hvm"): "Xen fully virtualized (HVM)"}


class ResourcesPage(CheckedPage):
    def __init__(self, wizard) -> None:
        super().__init__(wizard, "Resources", "Memory, processors and firmware.")
        self.hypervisor = QComboBox()
        self.hypervisor.setObjectName("hypervisor")
        self.memory = QSpinBox()
        self.memory.setObjectName("memory")
        self.memory.setRange(16, 4 * 1024 * 1024)
        self.memory.setSingleStep(256)
        self.memory.setSuffix(" MiB")
        self.memory_note = note_label()
        self.vcpus = QSpinBox()
        self.vcpus.setObjectName("vcpus")
        self.vcpus.setRange(1, 4096)
        self.sockets, self.cores, self.threads = QSpinBox(), QSpinBox(), QSpinBox()
        topology = QHBoxLayout()
        for spin, label in ((self.sockets, "sockets"), (self.cores, "cores"),
                            (self.threads, "threads")):
            spin.setRange(1, 4096)
            spin.setObjectName(label)
            topology.addWidget(spin)
            topology.addWidget(QLabel(label))
        self.cpu = QComboBox()
        self.cpu.setObjectName("cpuMode")
        self.firmware = QComboBox()
        self.firmware.setObjectName("firmware")
        self.secure_boot = QCheckBox("Secure Boot")
        self.secure_boot.setObjectName("secureBoot")
        self.tpm = QCheckBox("TPM 2.0 (emulated)")
        self.tpm.setObjectName("tpm")
        self.notes = note_label()
        form = QFormLayout()
        form.addRow("Hypervisor:", self.hypervisor)
        form.addRow("Memory:", self.memory)
        form.addRow("", self.memory_note)
        form.addRow("vCPUs:", self.vcpus)
        form.addRow("Topology:", topology)
        form.addRow("CPU model:", self.cpu)
        form.addRow("Firmware:", self.firmware)
        form.addRow("", self.secure_boot)
        form.addRow("", self.tpm)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.notes)
        layout.addStretch(1)
        layout.addWidget(self.problem)
        self.vcpus.valueChanged.connect(self._vcpus_changed)
        self.hypervisor.currentIndexChanged.connect(self._offer)
        self.firmware.currentIndexChanged.connect(self._offer)
        connect_all([self.hypervisor, self.memory, self.vcpus, self.sockets, self.cores,
                     self.threads, self.cpu, self.firmware, self.secure_boot, self.tpm],
                    self.changed)
        self._filling = False

    def initializePage(self) -> None:  # noqa: N802 (Qt's name)
        plan, facts = self.plan, self.facts
        plan.apply_os_defaults(self.wiz.session.osdb, facts)
        self._filling = True
        self.hypervisor.clear()
        kinds = hypervisors(facts)
        if plan.xen_pv:
            kinds = [k for k in kinds if k == ("xen", "xen")]
        elif facts.is_xen:
            kinds = [k for k in kinds if k == ("xen", "hvm")]
        for kind in kinds:
            self.hypervisor.addItem(LABELS.get(kind, kind[0]), key(kind))
        if (plan.domain_type, plan.os_type) in kinds:
            select_data(self.hypervisor, key((plan.domain_type, plan.os_type)))
        elif kinds:
            plan.domain_type, plan.os_type = kinds[0]
        self.cpu.clear()
        caps = facts.caps_for(plan.domain_type, plan.os_type)
        for mode, label in CPU_MODES:
            offer = caps.cpu_mode(mode) if caps is not None and mode != "default" else None
            add_item(self.cpu, label, mode, offer.reason if offer is not None and not offer
                     else "")
        select_data(self.cpu, plan.cpu_mode)
        if self.cpu.currentIndex() < 0 or not enabled_at(self.cpu, self.cpu.currentIndex()):
            select_data(self.cpu, "default")
        self.memory.setValue(plan.memory_mib)
        self.vcpus.setValue(plan.vcpus)
        self.sockets.setValue(plan.sockets)
        self.cores.setValue(plan.cores)
        self.threads.setValue(plan.threads)
        self.memory_note.setText(
            f"This host has {size_text(facts.total_memory_kib * 1024)}, "
            f"{size_text(facts.available_memory_kib * 1024)} free now.")
        self._filling = False
        self._offer()
        self.changed()

    def _offer(self, *_args) -> None:
        """Firmware, Secure Boot and TPM as the chosen hypervisor offers them."""
        if self._filling:
            return
        self._filling = True
        try:
            self._offer_for(kind_of(self.hypervisor.currentData()))
        finally:
            self._filling = False
        self.changed()

    def _offer_for(self, kind) -> None:
        plan = self.plan
        caps = self.facts.caps_for(*kind) if kind else None
        pv = kind == ("xen", "xen")
        wanted = self.firmware.currentData() or plan.firmware
        self.firmware.blockSignals(True)
        self.firmware.clear()
        add_item(self.firmware, "BIOS", "bios")
        uefi = caps.uefi() if caps is not None and not pv else None
        add_item(self.firmware, "UEFI", "efi",
                 "" if uefi else (uefi.reason if uefi is not None else
                                  "A PV guest boots its kernel directly, without firmware."))
        select_data(self.firmware, wanted if uefi or wanted == "bios" else "bios")
        self.firmware.blockSignals(False)
        efi = self.firmware.currentData() == "efi"
        secure = caps.secure_boot() if caps is not None and efi else None
        self.secure_boot.setEnabled(bool(secure))
        self.secure_boot.setToolTip("" if secure else (secure.reason if secure is not None
                                                       else "Secure Boot needs UEFI."))
        if not secure:
            self.secure_boot.setChecked(False)
        else:
            self.secure_boot.setChecked(plan.secure_boot)
        tpm = caps.tpm("2.0") if caps is not None and not pv else None
        self.tpm.setEnabled(bool(tpm))
        self.tpm.setToolTip("" if tpm else (tpm.reason if tpm is not None else
                                            "A PV guest has no TPM."))
        self.tpm.setChecked(bool(tpm) and plan.tpm)
        for widget in (self.firmware, self.secure_boot, self.tpm, self.sockets, self.cores,
                       self.threads, self.cpu):
            widget.setVisible(not pv)
        notes = []
        if self.firmware.currentData() == "bios" and plan.firmware == "efi":
            notes.append("The OS prefers UEFI.")
        self.notes.setText(" ".join(notes))

    def _vcpus_changed(self, value: int) -> None:
        if not self._filling and self.sockets.value() * self.cores.value() \
                * self.threads.value() != value:
            self.sockets.setValue(1)
            self.threads.setValue(1)
            self.cores.setValue(value)

    def read_into_plan(self) -> None:
        if self._filling:
            return
        plan = self.plan
        kind = kind_of(self.hypervisor.currentData())
        if kind:
            plan.domain_type, plan.os_type = kind
        plan.cpu_mode = self.cpu.currentData() or "default"
        plan.memory_mib = self.memory.value()
        plan.vcpus = self.vcpus.value()
        plan.sockets, plan.cores, plan.threads = (self.sockets.value(), self.cores.value(),
                                                  self.threads.value())
        plan.firmware = self.firmware.currentData() or "bios"
        plan.secure_boot = self.secure_boot.isChecked() and plan.firmware == "efi"
        plan.tpm = self.tpm.isChecked()

    def problems(self) -> list[str]:
        return resources_problems(self.plan, self.facts)
