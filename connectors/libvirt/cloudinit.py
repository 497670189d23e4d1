"""A cloud-init NoCloud seed: the small ISO (volume label ``cidata``) that tells a cloud
image its host name, its user, that user's password or SSH keys, and its instance id.

The seed is made on this computer and uploaded to the host through the connection
(transfer.py), so a remote host needs neither genisoimage nor a shell. It is written
with pycdlib, a pure-Python ISO 9660 writer: the desktop needs no xorriso or
genisoimage either, and the image has Joliet and Rock Ridge names (``user-data``,
``meta-data``), which cloud-init's NoCloud source reads.

YAML is written by hand: every value a user typed goes in as a JSON string (JSON's
strings are YAML's double-quoted scalars), so no name or key can change the document's
structure.
"""
from __future__ import annotations

import io
import json
import re
import subprocess
import uuid
import warnings
from dataclasses import dataclass, field

import pycdlib

VOLUME_LABEL = "cidata"
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
HOST_NAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class CloudInitConfig:
    hostname: str
    user: str
    password: str | None = None
    ssh_keys: tuple[str, ...] = ()
    instance_id: str = field(default_factory=lambda: f"hvconsole-{uuid.uuid4()}")


def problems(cfg: CloudInitConfig) -> list[str]:
    """What is wrong with the settings, one sentence each (empty: fine)."""
    found = []
    if not USER_NAME.match(cfg.user):
        found.append("The user name must start with a lower-case letter or _ and hold only "
                     "lower-case letters, digits, - and _ (at most 32).")
    if not HOST_NAME.match(cfg.hostname):
        found.append("The host name may hold letters, digits and - (not first or last), "
                     "at most 63.")
    if not cfg.password and not cfg.ssh_keys:
        found.append("Give the user a password or an SSH public key, or nobody can log in.")
    for key in cfg.ssh_keys:
        if not re.match(r"^(ssh-|ecdsa-|sk-)\S+ \S+", key.strip()):
            found.append(f"This is not an SSH public key: {key.strip()[:40]}…")
    return found


def hash_password(password: str) -> str:
    """SHA-512 crypt, as /etc/shadow wants it (the seed never holds the password itself)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # deprecated in 3.11, gone in 3.13: openssl below then
        return str(crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512)))
    except ImportError:
        done = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password,
                              capture_output=True, text=True, check=True)
        return done.stdout.strip()


def _q(value: str) -> str:
    return json.dumps(value)


def meta_data(cfg: CloudInitConfig) -> str:
    return f"instance-id: {_q(cfg.instance_id)}\nlocal-hostname: {_q(cfg.hostname)}\n"


def user_data(cfg: CloudInitConfig, password_hash: str | None = None) -> str:
    lines = ["#cloud-config", f"hostname: {_q(cfg.hostname)}", "users:",
             f"  - name: {_q(cfg.user)}", "    shell: /bin/bash",
             "    sudo: \"ALL=(ALL) NOPASSWD:ALL\"", "    groups: [sudo]"]
    if cfg.password:
        hashed = password_hash or hash_password(cfg.password)
        lines += ["    lock_passwd: false", f"    passwd: {_q(hashed)}"]
    if cfg.ssh_keys:
        lines.append("    ssh_authorized_keys:")
        lines += [f"      - {_q(k.strip())}" for k in cfg.ssh_keys]
    lines.append(f"ssh_pwauth: {'true' if cfg.password else 'false'}")
    return "\n".join(lines) + "\n"


def build_seed(cfg: CloudInitConfig, path: str, *, password_hash: str | None = None) -> None:
    """Writes the NoCloud seed ISO to ``path`` (a new file here)."""
    files = {"user-data": user_data(cfg, password_hash).encode(),
             "meta-data": meta_data(cfg).encode()}
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=VOLUME_LABEL)
    try:
        for name, data in files.items():
            iso_name = "/" + name.replace("-", "").upper()[:8] + ".;1"
            iso.add_fp(io.BytesIO(data), len(data), iso_name, rr_name=name,
                       joliet_path="/" + name)
        iso.write(path)
    finally:
        iso.close()
