"""The TLS certificates the user trusted for XenServer / XCP-ng hosts, by address.

What ~/.ssh/known_hosts is to SSH hosts (app.remote_access), this file is to XAPI hosts:
``trusted-certificates.json`` beside the saved servers, ``{"host:port": "SHA256:…"}``.
A fingerprint lands here only when the user said "trust" on first contact; the
connector (connectors.xapi) pins it on every socket, and a host that later shows another
certificate is refused (CertificateChanged) until the user forgets the old one here.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from app.config import config_dir
from connectors.atomic_file import replace_text

log = logging.getLogger(__name__)

FILE_NAME = "trusted-certificates.json"


class TrustedCertificates:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else config_dir() / FILE_NAME

    def load(self) -> dict[str, str]:
        """Address -> fingerprint; an unreadable file trusts nothing (and says why)."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("the trusted certificates in %s cannot be read: %s", self.path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}

    def add(self, address: str, fingerprint: str) -> None:
        pins = self.load()
        pins[address] = fingerprint
        self._write(pins)

    def forget(self, address: str) -> bool:
        pins = self.load()
        if pins.pop(address, None) is None:
            return False
        self._write(pins)
        return True

    def _write(self, pins: dict[str, str]) -> None:
        replace_text(self.path, json.dumps(pins, indent=1, sort_keys=True) + "\n")
