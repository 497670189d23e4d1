"""Page 1, Source: where the new VM's system comes from.

Each source the host cannot do is shown disabled, with the reason beside it. An image
(ISO, disk or cloud image) is either a volume in one of the host's pools or a file on
this computer, uploaded into a pool when the VM is created. A chosen ISO or tree is
looked at at once (its labels, its kernel) and what osinfo-db recognises is said here.
"""
from __future__ import annotations

import asyncio
import os

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QPushButton, QRadioButton, QStackedWidget, QVBoxLayout,
                               QWidget)

from app.new_vm.plan import SOURCE_LABELS
from app.new_vm.validation import size_text, source_offers, source_problems
from connectors.libvirt.create_ops import Source, VolumeRef

from .common import CheckedPage, connect_all, note_label

ORDER = (Source.ISO, Source.URL, Source.PXE, Source.IMPORT, Source.CLOUD, Source.KERNEL)


class ImagePicker(QWidget):
    """A volume on the host, or a file here plus the pool it is uploaded into."""

    def __init__(self, what: str, want_iso: bool, on_change) -> None:
        super().__init__()
        self.want_iso = want_iso
        self.on_host = QRadioButton(f"{what} on the host")
        self.on_host.setChecked(True)
        self.here = QRadioButton(f"{what} on this computer (uploaded to the host)")
        self.volume = QComboBox()
        self.volume.setObjectName("volume")
        self.path = QLineEdit()
        self.path.setObjectName("localPath")
        self.path.setPlaceholderText("/path/to/file" + (".iso" if want_iso else ".qcow2"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.pool = QComboBox()
        self.pool.setObjectName("uploadPool")
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.on_host)
        form.addRow("Volume:", self.volume)
        form.addRow(self.here)
        form.addRow("File:", row)
        form.addRow("Upload into pool:", self.pool)
        connect_all([self.on_host, self.volume, self.path, self.pool], on_change)
        self.on_host.toggled.connect(self._enable)
        self._enable()

    def _enable(self, *_args) -> None:
        host = self.on_host.isChecked()
        self.volume.setEnabled(host)
        self.path.setEnabled(not host)
        self.pool.setEnabled(not host)

    def _browse(self) -> None:
        pattern = "ISO images (*.iso);;All files (*)" if self.want_iso else \
            "Disk images (*.qcow2 *.img *.raw);;All files (*)"
        path, _ = QFileDialog.getOpenFileName(self, "Choose a file", self.path.text(), pattern)
        if path:
            self.path.setText(path)
            self.here.setChecked(True)

    def fill(self, facts) -> None:
        self.volume.blockSignals(True)
        self.pool.blockSignals(True)
        self.volume.clear()
        self.pool.clear()
        for pool in facts.pools:
            if pool.active:
                self.pool.addItem(f"{pool.name} ({size_text(pool.available)} free)", pool.name)
            for vol in pool.volumes:
                is_iso = vol.format == "iso" or vol.name.lower().endswith(".iso")
                if is_iso == self.want_iso:
                    self.volume.addItem(f"{pool.name} / {vol.name} ({size_text(vol.capacity)})",
                                        VolumeRef(pool.name, vol.name))
        if not self.volume.count():
            self.volume.addItem("(no such volume in the host's pools)", None)
            self.here.setChecked(True)
        self.volume.blockSignals(False)
        self.pool.blockSignals(False)

    def read(self, plan) -> None:
        plan.from_local = self.here.isChecked()
        plan.volume = self.volume.currentData() if not plan.from_local else None
        plan.local_path = self.path.text().strip()
        plan.upload_pool = self.pool.currentData() or ""


class SourcePage(CheckedPage):
    def __init__(self, wizard) -> None:
        super().__init__(wizard, "Source", "Where does the new VM's system come from?")
        self.buttons = QButtonGroup(self)
        self.radios: dict[Source, QRadioButton] = {}
        self.reasons: dict[Source, QLabel] = {}
        self.stack = QStackedWidget()
        choices = QVBoxLayout()
        for i, source in enumerate(ORDER):
            radio = QRadioButton(SOURCE_LABELS[source])
            radio.setObjectName(f"source-{source.value}")
            self.buttons.addButton(radio, i)
            self.radios[source] = radio
            choices.addWidget(radio)
            reason = note_label()
            reason.setVisible(False)
            self.reasons[source] = reason
            choices.addWidget(reason)
        self.radios[Source.ISO].setChecked(True)
        self.buttons.idToggled.connect(self._switch)

        self.iso = ImagePicker("ISO image", True, self.changed)
        self.url = QLineEdit()
        self.url.setObjectName("url")
        self.url.setPlaceholderText("https://deb.debian.org/debian/dists/bookworm/main/"
                                    "installer-amd64/")
        self.kernel_args = QLineEdit()
        self.url_pool = QComboBox()
        self.url_pool.setObjectName("urlPool")
        url_page = QWidget()
        url_form = QFormLayout(url_page)
        url_form.addRow("URL:", self.url)
        url_form.addRow("Kernel arguments:", self.kernel_args)
        url_form.addRow("Fetch into pool:", self.url_pool)
        url_form.addRow(note_label("The installer's kernel and initrd are fetched by this "
                                   "computer, uploaded to the host and booted once; then "
                                   "the VM boots from its disk."))
        pxe_page = QWidget()
        QVBoxLayout(pxe_page).addWidget(note_label(
            "The VM boots from the network first (a blank disk falls through to it): choose "
            "the virtual network or bridge with the PXE server on the Network page."))
        self.image = ImagePicker("Disk image", False, self.changed)
        self.image_format = QComboBox()
        self.image_format.addItem("qcow2", "qcow2")
        self.image_format.addItem("raw", "raw")
        image_page = QWidget()
        image_form = QFormLayout(image_page)
        image_form.addRow(self.image)
        image_form.addRow("Format:", self.image_format)
        self.cloud = ImagePicker("Cloud image", False, self.changed)
        self.cloud_linked = QCheckBox("Use the image as a backing file (fast; the image "
                                      "must stay)")
        self.cloud_linked.setChecked(True)
        self.cloud_user = QLineEdit()
        self.cloud_user.setObjectName("cloudUser")
        self.cloud_password = QLineEdit()
        self.cloud_password.setObjectName("cloudPassword")
        self.cloud_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.cloud_key = QPlainTextEdit()
        self.cloud_key.setObjectName("cloudKey")
        self.cloud_key.setPlaceholderText("ssh-ed25519 AAAA… you@example.org")
        self.cloud_key.setMaximumHeight(54)
        self.cloud_host = QLineEdit()
        self.cloud_host.setObjectName("cloudHostname")
        cloud_page = QWidget()
        cloud_form = QFormLayout(cloud_page)
        cloud_form.addRow(self.cloud)
        cloud_form.addRow(self.cloud_linked)
        cloud_form.addRow("User name:", self.cloud_user)
        cloud_form.addRow("Password:", self.cloud_password)
        cloud_form.addRow("SSH public key:", self.cloud_key)
        cloud_form.addRow("Host name:", self.cloud_host)
        self.kernel_path = QLineEdit()
        self.kernel_path.setObjectName("kernelPath")
        self.initrd_path = QLineEdit()
        self.initrd_path.setObjectName("initrdPath")
        self.pv_args = QLineEdit("console=hvc0")
        kernel_page = QWidget()
        kernel_form = QFormLayout(kernel_page)
        kernel_form.addRow("Kernel on the host:", self.kernel_path)
        kernel_form.addRow("Initrd on the host:", self.initrd_path)
        kernel_form.addRow("Kernel arguments:", self.pv_args)
        for page in (self.iso, url_page, pxe_page, image_page, cloud_page, kernel_page):
            self.stack.addWidget(page)
        self.detected = QLabel()
        self.detected.setObjectName("detected")
        self.detected.setWordWrap(True)
        layout = QVBoxLayout(self)
        sources = QGroupBox("Install from")
        sources.setLayout(choices)
        details = QGroupBox("Details")
        QVBoxLayout(details).addWidget(self.stack)
        layout.addWidget(sources)
        layout.addWidget(details, 1)
        layout.addWidget(self.detected)
        layout.addWidget(self.problem)
        connect_all([self.url, self.kernel_args, self.url_pool, self.image_format,
                     self.cloud_linked, self.cloud_user, self.cloud_password, self.cloud_key,
                     self.cloud_host, self.kernel_path, self.initrd_path, self.pv_args],
                    self.changed)
        self._media_timer = QTimer(self, singleShot=True, interval=400)
        self._media_timer.timeout.connect(self._check_media)
        self._last_media: tuple = ()

    # ---- filling from the host ----

    def host_ready(self) -> None:
        facts = self.facts
        offers = source_offers(facts)
        first = None
        for source, radio in self.radios.items():
            offer = offers[source]
            ok = bool(offer)
            radio.setEnabled(ok)
            radio.setToolTip(offer.reason)
            self.reasons[source].setText(offer.reason)
            self.reasons[source].setVisible(not ok)
            if ok and first is None:
                first = source
        for picker in (self.iso, self.image, self.cloud):
            picker.fill(facts)
        self.url_pool.clear()
        for pool in facts.pools:
            if pool.active:
                self.url_pool.addItem(pool.name, pool.name)
        if first is not None and not self.radios[self.source()].isEnabled():
            self.radios[first].setChecked(True)
        self.changed()

    def source(self) -> Source:
        return ORDER[max(0, self.buttons.checkedId())]

    def _switch(self, _id: int, checked: bool) -> None:
        if checked:
            self.stack.setCurrentIndex(ORDER.index(self.source()))
            self.changed()

    # ---- reading ----

    def read_into_plan(self) -> None:
        plan = self.plan
        plan.source = self.source()
        if plan.source is Source.ISO:
            self.iso.read(plan)
        elif plan.source is Source.IMPORT:
            self.image.read(plan)
            plan.image_format = self.image_format.currentData()
        elif plan.source is Source.CLOUD:
            self.cloud.read(plan)
            plan.cloud_linked = self.cloud_linked.isChecked()
            plan.image_format = "qcow2"
            plan.cloud_user = self.cloud_user.text().strip()
            plan.cloud_password = self.cloud_password.text()
            plan.cloud_ssh_key = self.cloud_key.toPlainText().strip()
            plan.cloud_hostname = self.cloud_host.text().strip()
        elif plan.source is Source.URL:
            plan.url = self.url.text().strip()
            plan.kernel_args = self.kernel_args.text().strip()
            plan.upload_pool = self.url_pool.currentData() or ""
        elif plan.source is Source.KERNEL:
            plan.kernel_path = self.kernel_path.text().strip()
            plan.initrd_path = self.initrd_path.text().strip()
            plan.kernel_args = self.pv_args.text().strip()
        if plan.source is Source.KERNEL:
            plan.domain_type, plan.os_type = "xen", "xen"
        elif self.facts is not None and self.facts.is_xen:
            plan.domain_type, plan.os_type = "xen", "hvm"
        media = (plan.source, plan.from_local, plan.volume, plan.local_path, plan.url)
        if media != self._last_media:
            self._last_media = media
            plan.media = plan.tree = None
            plan.media_error = plan.tree_error = ""
            if plan.source in (Source.ISO, Source.URL) or (
                    plan.from_local and plan.source in (Source.IMPORT, Source.CLOUD)):
                plan.checking = bool(plan.url if plan.source is Source.URL
                                     else plan.local_path or plan.volume)
                self._media_timer.start()
        self._show_detected()

    def _check_media(self) -> None:
        session = self.wiz.session
        task = asyncio.ensure_future(session.check_media(self.plan))
        task.add_done_callback(lambda _t: self.changed())
        self.wiz.pending.append(task)

    def _show_detected(self) -> None:
        plan = self.plan
        text = ""
        if plan.source is Source.ISO and plan.media is not None:
            label = plan.media.label.volume_id or "(no volume ID)"
            found = f"detected: {plan.os.name}" if plan.os_detected and plan.os else \
                "not an OS osinfo-db knows: choose it on the next page"
            text = f"Disc “{label}”: {found}."
        elif plan.source is Source.URL and plan.tree is not None:
            found = f"detected: {plan.os.name}" if plan.os_detected and plan.os else \
                "the OS is not known: choose it on the next page"
            text = f"Kernel {os.path.basename(plan.tree.kernel_url)} found; {found}."
        self.detected.setText(text)

    def problems(self) -> list[str]:
        return source_problems(self.plan, self.facts)

    def initializePage(self) -> None:  # noqa: N802 (Qt's name)
        self.changed()
