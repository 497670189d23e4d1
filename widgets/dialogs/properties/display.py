"""Graphics and video: VNC or SPICE, where the display listens, its password, and the
video card the guest sees."""
from __future__ import annotations

import ipaddress

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLineEdit, QStyle

from connectors.libvirt import domxml
from connectors.libvirt.domxml import Graphics, Video

from widgets.dialogs.properties.base import Page, note, offer_item, select_data

VIDEO_MODELS = ("virtio", "qxl", "vga", "bochs", "cirrus", "ramfb", "none")
SPICE_ONLY = ("channel", "image", "jpeg", "zlib", "playback", "streaming", "clipboard",
              "mouse", "filetransfer", "gl")
VNC_PASSWORD_MAX = 8


class DisplayPage(Page):
    title = "Display"
    icon = QStyle.StandardPixmap.SP_DesktopIcon

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        caps = session.data.domain
        form = QFormLayout()
        self.type_combo = QComboBox()
        self.type_combo.setObjectName("graphicsTypeCombo")
        offer_item(self.type_combo, "None", "")
        for kind in ("vnc", "spice"):
            offer = caps.graphics(kind) if caps is not None else None
            offer_item(self.type_combo, kind.upper(), kind,
                       offer.reason if offer is not None and not offer else "")
        self.type_combo.activated.connect(self._type_edited)
        self.row(form, "&Display:", self.type_combo, "graphics")
        self.listen_edit = QLineEdit()
        self.listen_edit.setObjectName("listenEdit")
        self.listen_edit.setPlaceholderText("the host's default (127.0.0.1)")
        self.listen_edit.textEdited.connect(self._listen_edited)
        self.row(form, "&Listen address:", self.listen_edit, "graphics")
        self.password_check = QCheckBox("Require a password")
        self.password_check.setObjectName("passwordCheck")
        self.password_check.toggled.connect(self._password_edited)
        self.row(form, "", self.password_check, "graphics_password")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("passwordEdit")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.textEdited.connect(lambda _t: self._password_edited())
        form.addRow("&Password:", self.password_edit)
        self.video_combo = QComboBox()
        self.video_combo.setObjectName("videoCombo")
        for model in VIDEO_MODELS:
            offer = caps.video(model) if caps is not None and model != "none" else None
            offer_item(self.video_combo, model, model,
                       offer.reason if offer is not None and not offer else "")
        self.video_combo.activated.connect(self._video_edited)
        self.row(form, "&Video:", self.video_combo, "video")
        self.outer.addLayout(form)
        self.outer.addWidget(note("A VNC password has at most 8 characters. Consoles "
                                  "opened through libvirt's own socket (local VMs) skip it."))
        self.outer.addStretch(1)
        self.refresh()

    def _graphics(self) -> Graphics | None:
        found = [g for g in self.session.edited.graphics if g.type in ("vnc", "spice")]
        return found[0] if found else None

    def _video(self) -> Video | None:
        found = self.session.edited.videos
        return found[0] if found else None

    def refresh(self) -> None:
        graphics, video = self._graphics(), self._video()
        select_data(self.type_combo, graphics.type if graphics else "")
        with QSignalBlocker(self.listen_edit):
            self.listen_edit.setText(graphics.listen_address or "" if graphics else "")
        with QSignalBlocker(self.password_check):
            self.password_check.setChecked(bool(graphics and graphics.passwd is not None))
        with QSignalBlocker(self.password_edit):
            self.password_edit.setText(graphics.passwd or "" if graphics else "")
        for widget in (self.listen_edit, self.password_check, self.password_edit):
            widget.setEnabled(graphics is not None)
        self.password_edit.setEnabled(self.password_check.isChecked())
        select_data(self.video_combo, video.model if video else "none")
        self.show_problems()

    def problems(self) -> list[str]:
        graphics = self._graphics()
        if graphics is None:
            return []
        found = []
        address = self.listen_edit.text().strip()
        if address:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                found.append(f"“{address}” is not an IP address to listen on.")
        if self.password_check.isChecked():
            password = self.password_edit.text()
            if not password:
                found.append("Type the password, or untick “Require a password”.")
            elif graphics.type == "vnc" and len(password) > VNC_PASSWORD_MAX:
                found.append(f"A VNC password has at most {VNC_PASSWORD_MAX} characters; "
                             "VNC clients would only send the first 8.")
        return found

    # ---- edits ----

    def _type_edited(self) -> None:
        kind = self.type_combo.currentData()
        graphics = self._graphics()
        if not kind:
            if graphics is not None:
                self.session.remove_device(graphics)
        elif graphics is None:
            self.session.add_device(domxml.new_graphics(kind))
        elif graphics.type != kind:
            graphics.type = kind
            if kind == "vnc":
                for tag in SPICE_ONLY:
                    graphics.drop(tag)
                graphics.tls_port = None
                graphics.default_mode = None
            graphics.set_autoport()
            self.edited()
        self.refresh()

    def _listen_edited(self, text: str) -> None:
        graphics = self._graphics()
        if graphics is not None and (graphics.listen_address or "") != text.strip():
            graphics.set_listen_address(text.strip() or None)
            self.edited()

    def _password_edited(self) -> None:
        graphics = self._graphics()
        if graphics is None:
            return
        self.password_edit.setEnabled(self.password_check.isChecked())
        wanted = self.password_edit.text() if self.password_check.isChecked() else None
        if graphics.passwd != wanted:
            graphics.set_password(wanted, graphics.passwd_valid_to)
        self.edited()

    def _video_edited(self) -> None:
        model = self.video_combo.currentData()
        video = self._video()
        if video is None:
            if model != "none":
                self.session.add_device(domxml.new_video(model))
        elif video.model != model:
            video.set_model(model)
            self.edited()
        self.refresh()
