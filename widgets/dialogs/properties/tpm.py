"""TPM: none, or one emulated by the host (swtpm), version 2.0 or 1.2."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFormLayout, QStyle

from connectors.libvirt import domxml
from connectors.libvirt.domxml import Tpm

from widgets.dialogs.properties.base import Page, note, offer_item, select_data

MODELS = ("tpm-crb", "tpm-tis")


class TpmPage(Page):
    title = "TPM"
    icon = QStyle.StandardPixmap.SP_FileDialogInfoView

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        caps = session.data.domain
        form = QFormLayout()
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("tpmCombo")
        offer_item(self.kind_combo, "None", "")
        for version in ("2.0", "1.2"):
            offer = caps.tpm(version) if caps is not None else None
            offer_item(self.kind_combo, f"Emulated TPM {version}", version,
                       offer.reason if offer is not None and not offer else "")
        existing = self._tpm()
        if existing is not None and existing.backend_type == "passthrough":
            offer_item(self.kind_combo, f"The host's TPM ({existing.device_path})",
                       "passthrough")
        self.kind_combo.activated.connect(self._edited)
        self.row(form, "&TPM:", self.kind_combo, "tpm")
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("tpmModelCombo")
        models = caps.tpm_models if caps is not None and caps.tpm_models else MODELS
        for model in models:
            self.model_combo.addItem(model, model)
        self.model_combo.activated.connect(self._edited)
        self.row(form, "&Model:", self.model_combo, "tpm")
        self.outer.addLayout(form)
        self.outer.addWidget(note("tpm-crb suits Q35 machines and TPM 2.0; tpm-tis older "
                                  "machines and TPM 1.2. A TPM is added or removed while "
                                  "the VM is shut off."))
        self.outer.addStretch(1)
        self.refresh()

    def _tpm(self) -> Tpm | None:
        found = self.session.edited.devices_of(Tpm)
        return found[0] if found else None

    def refresh(self) -> None:
        tpm = self._tpm()
        if tpm is None:
            select_data(self.kind_combo, "")
        elif tpm.backend_type == "passthrough":
            select_data(self.kind_combo, "passthrough")
        else:
            select_data(self.kind_combo, tpm.version or "2.0")
        select_data(self.model_combo, tpm.model if tpm else "tpm-crb")
        self.model_combo.setEnabled(tpm is not None)
        self.show_problems()

    def problems(self) -> list[str]:
        tpm = self._tpm()
        if tpm is not None and tpm.version == "1.2" and tpm.model == "tpm-crb":
            return ["A TPM 1.2 needs the tpm-tis model (tpm-crb is TPM 2.0 only)."]
        return []

    def _edited(self) -> None:
        kind, model = self.kind_combo.currentData(), self.model_combo.currentData()
        tpm = self._tpm()
        if not kind:
            if tpm is not None:
                self.session.remove_device(tpm)
        elif kind == "passthrough":
            pass
        elif tpm is None:
            self.session.add_device(domxml.new_tpm(model or "tpm-crb", kind))
        elif tpm.backend_type != "emulator":      # the host's TPM gives way to an emulated one
            self.session.remove_device(tpm)
            self.session.add_device(domxml.new_tpm(model or "tpm-crb", kind))
        else:
            if tpm.version != kind:
                tpm.version = kind
            if tpm.model != model:
                tpm.model = model
            self.edited()
        self.refresh()
