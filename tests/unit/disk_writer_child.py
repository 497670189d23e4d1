"""A process that saves one of HVConsole's files over and over until it is killed.

``python disk_writer_child.py KIND PATH``: KIND is connections, settings, vault,
known_hosts, saved_searches or history. Generation g of the content is recognisable (every
entry carries g), so a file read after a kill -9 is either one whole generation or
damaged. Prints "ready" once the first generation is on disk, so the parent kills only
while saves are going on.
"""
from __future__ import annotations

import sys
from pathlib import Path

ENTRIES = 300   # big enough that a save takes a while: kills land inside writes


def connections(path: Path) -> None:
    from app.config import ConnectionsStore, SavedConnection
    store = ConnectionsStore(path)
    for g in _generations():
        store.save([SavedConnection(f"qemu+ssh://root@host{i}.g{g}.example/system")
                    for i in range(ENTRIES)])


def settings(path: Path) -> None:
    from PySide6.QtCore import QSettings

    from app import settings_file
    from app.preferences import Preferences
    settings_file.clear_torn_lock(str(path))   # as every start of HVConsole does
    prefs = Preferences(QSettings(str(path), QSettings.Format.IniFormat))
    for g in _generations():
        prefs.set_value("alerts/rules", [{"target": f"vm{i}", "rule_id": f"g{g}"}
                                         for i in range(ENTRIES)])


def saved_searches(path: Path) -> None:
    from app.search.saved import SavedSearch, SavedSearches
    searches = SavedSearches(path)
    for g in _generations():   # the whole list at once, as import_from stores it
        searches._store([SavedSearch(f"s{i}-g{g}", "cpu > 80") for i in range(ENTRIES)])


def vault(path: Path) -> None:
    from app.vault import EncryptedFileVault
    store = EncryptedFileVault(path, time_cost=1)
    store.unlock("campaign password")
    for g in _generations():
        store.set(f"key{g % 5}", f"secret-g{g}")


def known_hosts(path: Path) -> None:
    from connectors.libvirt.hostkeys import HostKey, KnownHosts
    known = KnownHosts(path)
    blob = "AAAAC3NzaC1lZDI1NTE5AAAAI" + "A" * 43
    for g in _generations():
        known.add(f"host{g}.example", 22, [HostKey("ssh-ed25519", blob)])


def history(path: Path) -> None:
    from app.perf.history import HistoryStore
    import time
    store = HistoryStore(path, writer_thread=False).start()
    keys = [f"vm{i}" for i in range(ENTRIES)]
    for g in _generations():
        store.record(time.time(), keys, {"cpu": float(g), "mem": float(g)})
        store.flush()


def _generations():
    g = 0
    while True:
        yield g
        if g == 0:
            print("ready", flush=True)
        g += 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    {"connections": connections, "settings": settings, "vault": vault,
     "saved_searches": saved_searches,
     "known_hosts": known_hosts, "history": history}[sys.argv[1]](Path(sys.argv[2]))
