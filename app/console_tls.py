"""Where VM consoles look for TLS certificates: one preference (Preferences → Console),
the folder QEMU's convention fills with ``ca-cert.pem`` (and ``client-cert.pem`` /
``client-key.pem``). Empty: ``~/.pki/libvirt-vnc``, then ``/etc/pki/libvirt-vnc``. In
either, a subfolder named after a server (``<folder>/kvm1.example.org/``) holds that
server's own CA, so servers signed by different CAs need no switching
(connectors.console.tls). QtCore-free apart from the preferences it reads.
"""
from __future__ import annotations

from pathlib import Path

from app import preferences as prefs
from connectors.console.tls import TlsOptions, default_cert_dirs

VNC_CERT_DIR = "console/vnc_cert_dir"


def _folder(value) -> str:
    return str(value).strip()


prefs.SETTINGS.setdefault(VNC_CERT_DIR, prefs.Setting(VNC_CERT_DIR, "", _folder))


def tls_options(preferences: prefs.Preferences | None) -> TlsOptions:
    folder = preferences.value(VNC_CERT_DIR) if preferences is not None else ""
    return TlsOptions(cert_dir=Path(folder).expanduser() if folder else None)


def default_folders_text() -> str:
    return ", then ".join(str(d).replace(str(Path.home()), "~", 1) for d in default_cert_dirs())
