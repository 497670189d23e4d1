"""Network installs: find the kernel and initrd in an HTTP(S) distribution tree, say
which OS it is, and fetch them to this computer (they are then uploaded to the host,
so a remote host needs no access to the mirror of its own).

Which OS: a tree with ``.treeinfo`` (Fedora, RHEL and their kind) says its family,
version and architecture; a Debian or Ubuntu tree has none and is known by where it
sits on its mirror (osinfo-db gives the path, e.g. .../dists/bullseye/main/installer-amd64).
A tree nothing identifies is still used when one of the layouts osinfo-db knows has a
kernel and an initrd in it; the user then picks the OS. Blocking: run in a thread.
"""
from __future__ import annotations

import configparser
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from connectors.libvirt.osinfo import OsDb, OsEntry

TIMEOUT_S = 20.0
CHUNK = 1 << 20


class TreeError(Exception):
    """A tree that cannot be used, said in a sentence."""


class FetchCancelled(Exception):
    pass


@dataclass(frozen=True)
class TreeFacts:
    url: str
    kernel_url: str
    initrd_url: str
    os: OsEntry | None


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def _exists(url: str) -> tuple[bool, str]:
    """(found, why not in words)."""
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            return 200 <= answer.status < 300, f"HTTP {answer.status}"
    except urllib.error.HTTPError as err:
        return False, f"HTTP {err.code} {err.reason}"
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise TreeError(f"Cannot reach {url}: {reason}.") from None


def _treeinfo(url: str) -> tuple[str, str, str, str, str] | None:
    """(family, version, arch, kernel path, initrd path) from .treeinfo, if any."""
    try:
        with urllib.request.urlopen(_join(url, ".treeinfo"), timeout=TIMEOUT_S) as answer:
            text = answer.read(1 << 20).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    section = "release" if parser.has_section("release") else "general"
    family = parser.get(section, "name", fallback="") or parser.get("general", "family",
                                                                    fallback="")
    version = parser.get(section, "version", fallback="")
    arch = parser.get("tree", "arch", fallback=parser.get("general", "arch", fallback=""))
    images = f"images-{arch}" if parser.has_section(f"images-{arch}") else None
    kernel = parser.get(images, "kernel", fallback="") if images else ""
    initrd = parser.get(images, "initrd", fallback="") if images else ""
    return family, version, arch, kernel, initrd


def probe(url: str, db: OsDb, arch: str = "x86_64") -> TreeFacts:
    """Where the kernel and initrd are and which OS this is; TreeError in words when
    the URL is no install tree."""
    if not url.startswith(("http://", "https://")):
        raise TreeError("A network install needs an http:// or https:// URL of the "
                        "distribution's tree.")
    info = _treeinfo(url)
    if info is not None and info[3] and info[4]:
        family, version, tree_arch, kernel, initrd = info
        os_entry = db.identify_treeinfo(family, version, tree_arch or arch)
        return TreeFacts(url, _join(url, kernel), _join(url, initrd), os_entry)
    known = db.identify_tree_url(url, arch)
    tried: list[str] = []
    candidates: list[tuple[str, str, OsEntry | None]] = []
    entry: OsEntry | None
    if known is not None:
        entry, tree = known
        if tree.kernel and tree.initrd:
            candidates.append((tree.kernel, tree.initrd, entry))
    candidates += [(k, i, None) for k, i in db.tree_layouts(arch)
                   if (k, i) not in {(c[0], c[1]) for c in candidates}]
    for kernel, initrd, entry in candidates:
        found, why = _exists(_join(url, kernel))
        tried.append(f"{kernel} ({why})")
        if found:
            found, why = _exists(_join(url, initrd))
            if found:
                return TreeFacts(url, _join(url, kernel), _join(url, initrd), entry)
            tried[-1] = f"{initrd} ({why})"
        if len(tried) >= 6:
            break
    raise TreeError(f"{url} is not an install tree HVConsole knows: no kernel and initrd "
                    f"where distributions put them (tried {', '.join(tried[:3])}).")


def fetch(url: str, path: str, cancel: threading.Event,
          progress: list[int] | None = None) -> None:
    """Downloads ``url`` into a new file ``path``; removes it when cancelled or failed.
    ``progress`` is [done, total] bytes, updated as it goes (read from another thread)."""
    try:
        answer = urllib.request.urlopen(url, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        raise TreeError(f"Could not fetch {url}: HTTP {err.code} {err.reason}.") from None
    except (urllib.error.URLError, OSError) as err:
        raise TreeError(f"Could not fetch {url}: {getattr(err, 'reason', err)}.") from None
    total = int(answer.headers.get("Content-Length") or 0)
    if progress is not None:
        progress[:] = [0, total]
    try:
        with answer, open(path, "xb") as out:
            while True:
                if cancel.is_set():
                    raise FetchCancelled("The download was cancelled.")
                data = answer.read(CHUNK)
                if not data:
                    break
                out.write(data)
                if progress is not None:
                    progress[0] += len(data)
        if total and os.path.getsize(path) != total:
            raise TreeError(f"{url} ended early ({os.path.getsize(path)} of {total} bytes).")
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
