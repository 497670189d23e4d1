"""Which protocol a VM's console was last shown with, when the VM has both VNC and SPICE.

Kept with QSettings beside the window geometry (``console/protocol/<host URI>/<VM UUID>``),
so the Console tab opens the way the user left it. A value that is not a protocol the
console shows is ignored (the VM's first display is shown)."""
from __future__ import annotations

from urllib.parse import quote

from PySide6.QtCore import QSettings

from app import settings_file
from app.console_openers import PROTOCOLS


class ProtocolMemory:
    def __init__(self, settings: QSettings | None = None) -> None:
        self._settings = settings if settings is not None else QSettings("hvconsole",
                                                                         "hvconsole")

    @staticmethod
    def _key(uri: str, vm_uuid: str) -> str:
        # QSettings reads "/" as a group separator: the URI is kept as one key part.
        return f"console/protocol/{quote(uri, safe='')}/{vm_uuid}"

    def get(self, uri: str, vm_uuid: str) -> str | None:
        value = self._settings.value(self._key(uri, vm_uuid), None)
        return value if value in PROTOCOLS else None

    def set(self, uri: str, vm_uuid: str, protocol: str) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"{protocol!r} is not a console protocol")
        self._settings.setValue(self._key(uri, vm_uuid), protocol)
        settings_file.sync(self._settings)
