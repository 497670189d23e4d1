"""``<graphics>``: where a VM's display listens, and the credentials a console needs.

The password (``passwd``) is only in the XML read with VIR_DOMAIN_XML_SECURE; libvirt
writes ``passwdValidTo`` in UTC without a zone. A SPICE display is *TLS-only* when a
client without TLS cannot open its main channel: it has a TLS port and no plain one, or
every channel (``defaultMode``) or the main channel must be secure.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from connectors.libvirt.domxml import xmltree
from connectors.libvirt.domxml.devices import Device
from connectors.libvirt.domxml.nodes import Attr, IntAttr, Switch, attrs

if TYPE_CHECKING:
    from connectors.libvirt.domxml.domain import Domain


@dataclass(frozen=True)
class Listen:
    """One ``<listen>``: type address (with an address or the host's default), network,
    socket, or none."""

    type: str
    address: str | None = None
    network: str | None = None
    socket: str | None = None


class Graphics(Device):
    __slots__ = ()
    TAG = "graphics"
    ORDER = ("listen", "channel", "image", "jpeg", "zlib", "playback", "streaming",
             "clipboard", "mouse", "filetransfer", "gl", "audio")
    type = Attr("type")                      # vnc, spice, sdl, rdp, egl-headless, dbus
    port = IntAttr("port")                   # -1 / absent until a VM with autoport runs
    tls_port = IntAttr("tlsPort")
    autoport = Switch("autoport")
    listen_attr = Attr("listen")
    socket = Attr("socket")                  # VNC on a Unix socket
    passwd = Attr("passwd")
    passwd_valid_to_text = Attr("passwdValidTo")
    connected = Attr("connected")            # keep, disconnect, fail
    keymap = Attr("keymap")
    default_mode = Attr("defaultMode")       # SPICE: any, secure, insecure
    share_policy = Attr("sharePolicy")

    @property
    def listens(self) -> list[Listen]:
        return [Listen(e.get("type", "address"), e.get("address"), e.get("network"),
                       e.get("socket")) for e in self.element.findall("listen")]

    @property
    def listen_address(self) -> str | None:
        """The address the display listens on: the attribute, or the first ``<listen>``
        that names one (type address, or network: a running VM's XML says its address)."""
        found = self.listen_attr
        if found:
            return found
        return next((lst.address for lst in self.listens
                     if lst.type != "socket" and lst.address), None)

    @property
    def listen_socket(self) -> str | None:
        return self.socket or next((lst.socket for lst in self.listens
                                    if lst.type == "socket" and lst.socket), None)

    def set_listen_address(self, address: str | None) -> None:
        """Listen on ``address``; None: the host's default (qemu.conf's)."""
        self._set_listens(xmltree.new("listen", attrs(type="address", address=address)))
        self.listen_attr = address

    def set_listen_socket(self, path: str | None = None) -> None:
        """A Unix socket (libvirt picks the path when None): reachable only on the host
        or through SSH."""
        self._set_listens(xmltree.new("listen", attrs(type="socket", socket=path)))
        self.listen_attr = None
        self.port = self.tls_port = None
        self.autoport = None

    def set_listen_none(self) -> None:
        """No listener at all (SPICE/VNC reached only through libvirt's own socket)."""
        self._set_listens(xmltree.new("listen", {"type": "none"}))
        self.listen_attr = None
        self.port = self.tls_port = None
        self.autoport = None

    def _set_listens(self, listen: xmltree.Element) -> None:
        self.drop("listen")
        self.socket = None
        xmltree.insert_child(self.element, listen, self.ORDER)

    def set_autoport(self) -> None:
        """A port chosen when the VM starts."""
        self.autoport = True
        self.port = None
        if self.type == "spice" and self.tls_port is not None:
            self.tls_port = None

    @property
    def channels(self) -> dict[str, str]:
        """SPICE channel name -> mode (secure, insecure, any)."""
        return {c.get("name", ""): c.get("mode", "any") for c in self.element.findall("channel")}

    def set_channel_mode(self, name: str, mode: str | None) -> None:
        for found in self.element.findall("channel"):
            if found.get("name") == name:
                if mode is None:
                    xmltree.remove_child(self.element, found)
                else:
                    found.set("mode", mode)
                return
        if mode is not None:
            xmltree.insert_child(self.element, xmltree.new("channel", attrs(name=name, mode=mode)),
                                 self.ORDER)

    @property
    def passwd_valid_to(self) -> datetime | None:
        text = self.passwd_valid_to_text
        if not text:
            return None
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)

    def set_password(self, password: str | None, valid_to: datetime | None = None) -> None:
        """Set or clear the display's password; ``valid_to`` (aware, or UTC) limits it."""
        self.passwd = password
        if valid_to is not None and valid_to.tzinfo is not None:
            valid_to = valid_to.astimezone(timezone.utc).replace(tzinfo=None)
        self.passwd_valid_to_text = (valid_to.isoformat(timespec="seconds")
                                     if password is not None and valid_to is not None
                                     else None)

    @property
    def tls_only(self) -> bool:
        return tls_only(self)


def tls_only(graphics: Graphics) -> bool:
    """A SPICE display no client without TLS can open (see the module's docstring)."""
    if graphics.type != "spice" or (graphics.tls_port or -1) <= 0:
        return False
    if (graphics.port or -1) <= 0 or graphics.default_mode == "secure":
        return True
    return graphics.channels.get("main") == "secure"


def graphics_password(dom: Domain, index: int) -> str | None:
    """``passwd`` of the domain's ``index``-th graphics device (in document order, as
    VMInfo.graphics and virDomainOpenGraphicsFD count them); None without one."""
    found = _nth(dom, index)
    return found.passwd if found is not None else None


def ticket_expiry(dom: Domain, index: int) -> datetime | None:
    """When the ``index``-th graphics device's password stops being accepted (UTC)."""
    found = _nth(dom, index)
    return found.passwd_valid_to if found is not None else None


def _nth(dom: Domain, index: int) -> Graphics | None:
    shown = dom.graphics
    return shown[index] if 0 <= index < len(shown) else None
