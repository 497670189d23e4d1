"""New Volume and Grow Volume: a few fields, checked as they are typed.

What is wrong is said under the fields in a sentence (the same sentences the host
connection would refuse with: ``VolumeSpec.problems()``), and OK stays disabled until
nothing is; Enter is OK then.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel,
                               QLineEdit, QVBoxLayout, QWidget)

from app import colours
from app.formatting import human_bytes, parse_size
from connectors.libvirt.model import PoolInfo
from connectors.libvirt.storage_xml import FILE_POOLS, VolumeInfo, VolumeSpec

PREALLOCATION_WORDS = {
    "none": "None: space is taken as the guest writes (sparse)",
    "metadata": "Metadata: qcow2 tables written now (faster first writes)",
    "full": "Full: every byte reserved now",
}


class _Checked(QDialog):
    def _build_common(self, form: QFormLayout) -> None:
        self.problem = QLabel()
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(colours.style(colours.ERROR))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

    def _show(self, problems: list[str]) -> None:
        self.problem.setText("\n".join(problems))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problems)

    def problems(self) -> list[str]:
        return self.problem.text().splitlines() if self.problem.text() else []


class NewVolumeDialog(_Checked):
    def __init__(self, pool: PoolInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.setWindowTitle(f"New Volume in {pool.name}")
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setPlaceholderText("disk1.qcow2")
        self.size_edit = QLineEdit("20 GiB")
        self.format = QComboBox()
        self.prealloc = QComboBox()
        for key, words in PREALLOCATION_WORDS.items():
            self.prealloc.addItem(words, key)
        self.backing = QLineEdit()
        self.backing.setPlaceholderText("optional: /var/lib/libvirt/images/base.qcow2")
        files = pool.pool_type in FILE_POOLS
        if files:
            self.format.addItems(["qcow2", "raw"])
        else:
            self.format.addItem("(the pool's own)", "")
        form.addRow("&Name:", self.name)
        form.addRow("&Size:", self.size_edit)
        form.addRow("&Format:", self.format)
        form.addRow("&Preallocation:", self.prealloc)
        form.addRow("&Backing file:", self.backing)
        self.free = QLabel(f"{human_bytes(pool.available)} free in {pool.name}")
        form.addRow("", self.free)
        self._build_common(form)
        for edit in (self.name, self.size_edit, self.backing):
            edit.textChanged.connect(self._check)
        for box in (self.format, self.prealloc):
            box.currentIndexChanged.connect(self._check)
        self.name.textChanged.connect(self._suffix)
        self.format.currentIndexChanged.connect(self._suffix)
        self.resize(520, 280)
        self._check()

    def _suffix(self) -> None:
        """qcow2 and raw names follow the format the user picks, until they type one."""
        name = self.name.text()
        fmt = self.format.currentText()
        for other in ("qcow2", "raw", "img"):
            if name.endswith(f".{other}") and other != fmt and fmt in ("qcow2", "raw"):
                self.name.setText(name[: -len(other)] + ("img" if fmt == "raw" else fmt))

    def spec(self) -> VolumeSpec:
        try:
            size = parse_size(self.size_edit.text())
        except ValueError:
            size = -1
        fmt = self.format.currentData() if self.format.currentData() is not None \
            else self.format.currentText()
        backing = self.backing.text().strip()
        return VolumeSpec(self.name.text().strip(), size, fmt,
                          self.prealloc.currentData(), backing,
                          "qcow2" if backing.endswith(".qcow2") else ("raw" if backing else ""))

    def _check(self) -> None:
        problems = []
        try:
            parse_size(self.size_edit.text())
        except ValueError as err:
            problems.append(str(err))
        spec = self.spec()
        problems += [p for p in spec.problems(self.pool.pool_type, self.pool.available)
                     if not (problems and "size above zero" in p)]
        self._show(problems)


class GrowVolumeDialog(_Checked):
    def __init__(self, pool: PoolInfo, volume: VolumeInfo,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool, self.volume = pool, volume
        self.setWindowTitle(f"Grow {volume.name}")
        form = QFormLayout()
        form.addRow("Now:", QLabel(human_bytes(volume.capacity)))
        self.size_edit = QLineEdit(human_bytes(volume.capacity * 2))
        form.addRow("&New size:", self.size_edit)
        note = QLabel("The guest sees the extra space as unpartitioned: grow its partition "
                      "and filesystem inside the guest afterwards.")
        note.setWordWrap(True)
        form.addRow("", note)
        self._build_common(form)
        self.size_edit.textChanged.connect(self._check)
        self.resize(440, 200)
        self._check()

    def capacity(self) -> int:
        try:
            return parse_size(self.size_edit.text())
        except ValueError:
            return -1

    def _check(self) -> None:
        try:
            size = parse_size(self.size_edit.text())
        except ValueError as err:
            self._show([str(err)])
            return
        problems = []
        if size <= self.volume.capacity:
            problems.append(f"A volume can only grow: choose more than "
                            f"{human_bytes(self.volume.capacity)}.")
        elif self.pool.pool_type == "logical" and \
                size - self.volume.capacity > self.pool.available:
            problems.append(f"The pool has {human_bytes(self.pool.available)} free.")
        self._show(problems)
