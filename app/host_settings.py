"""What HVConsole remembers about each server besides its URI: maintenance mode and where
migrations reach it.

Kept with QSettings (the preferences' file), one group per server keyed by its URI, so
a host stays "In maintenance" after HVConsole restarts, and Exit Maintenance Mode still
knows which VMs to bring back:
- ``maintenance``: the host is in maintenance mode (nothing is started there);
- ``evacuated``: the VMs maintenance mode moved away (UUID, name, and the URI of the
  host they went to), for Exit Maintenance Mode's "bring them back";
- ``migration_address``: the address QEMU's migration stream must use to reach this
  host when it is the destination (its host name may resolve to something the source
  cannot reach: 127.0.0.1 in a container, a management network…); "" lets libvirt use
  the host's name;
- ``peer_uri``: the URI a source host's libvirtd opens to reach this host for a
  tunnelled (peer-to-peer) migration, when HVConsole's own URI would not work from there.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from urllib.parse import quote

from PySide6.QtCore import QObject, QSettings, Signal

from app import settings_file

GROUP = "hosts"


@dataclass(frozen=True)
class Evacuated:
    """A VM maintenance mode moved away from its host."""

    uuid: str
    name: str
    to_uri: str


class HostSettings(QObject):
    """``changed(uri)`` after any value of that server changed."""

    changed = Signal(str)

    def __init__(self, settings: QSettings | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else QSettings(
            "hvconsole", "hvconsole")

    @staticmethod
    def _key(uri: str, name: str) -> str:
        # QSettings reads "/" as a group separator: the URI is quoted into one key.
        return f"{GROUP}/{quote(uri, safe='')}/{name}"

    def _get(self, uri: str, name: str, default: object) -> object:
        value = self._settings.value(self._key(uri, name), None)
        return default if value is None else value

    def _set(self, uri: str, name: str, value: object) -> None:
        key = self._key(uri, name)
        if value in (None, "", False, "[]"):
            self._settings.remove(key)
        else:
            self._settings.setValue(key, value)
        settings_file.sync(self._settings)
        self.changed.emit(uri)

    # ---- maintenance mode ----

    def in_maintenance(self, uri: str) -> bool:
        value = self._get(uri, "maintenance", False)
        return value is True or str(value).lower() == "true"

    def set_maintenance(self, uri: str, on: bool,
                        evacuated: list[Evacuated] | None = None) -> None:
        """Marks or clears the mode; ``evacuated`` replaces the list of moved VMs (the
        list is cleared with the mode)."""
        if on:
            self._settings.setValue(self._key(uri, "evacuated"),
                                    json.dumps([asdict(e) for e in evacuated or []]))
        else:
            self._settings.remove(self._key(uri, "evacuated"))
        self._set(uri, "maintenance", True if on else None)

    def add_evacuated(self, uri: str, moved: Evacuated) -> None:
        kept = [e for e in self.evacuated(uri) if e.uuid != moved.uuid] + [moved]
        self._set(uri, "evacuated", json.dumps([asdict(e) for e in kept]))

    def evacuated(self, uri: str) -> list[Evacuated]:
        raw = self._get(uri, "evacuated", "[]")
        try:
            entries = json.loads(str(raw))
            return [Evacuated(str(e["uuid"]), str(e["name"]), str(e["to_uri"]))
                    for e in entries]
        except (ValueError, TypeError, KeyError):
            return []

    # ---- how migrations reach the host ----

    def migration_address(self, uri: str) -> str:
        return str(self._get(uri, "migration_address", "")).strip()

    def set_migration_address(self, uri: str, address: str) -> None:
        self._set(uri, "migration_address", address.strip() or None)

    def peer_uri(self, uri: str) -> str:
        return str(self._get(uri, "peer_uri", "")).strip()

    def set_peer_uri(self, uri: str, peer_uri: str) -> None:
        self._set(uri, "peer_uri", peer_uri.strip() or None)
