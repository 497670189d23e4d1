"""The Console tab: the live screen of the selected VM, undockable into its own window.

A session runs only while the tab is visible (or its console is undocked): selecting
another VM or another tab closes the connection, as virt-manager does. A VM with both
VNC and SPICE opens with the protocol the user last chose for it (else its first display).
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMainWindow, QStackedLayout, QWidget

from app.console_openers import PROTOCOLS, PoolConsoleOpener, vm_opener
from app.console_session import ConsoleSession
from app.console_protocols import ProtocolMemory
from app.inventory import NodeKind
from app.vault import Vault
from connectors.console.tls import TlsOptions
from widgets.console.pane import ConsolePane
from widgets.console.window import ConsoleWindow, password_prompt


NO_SELECTION = "Select a VM with a VNC or SPICE display to see its console."


class ConsoleTab(QWidget):
    def __init__(self, manager, inventory, start_action=None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.inventory = inventory
        self.start_action = start_action
        # Where "Remember password" keeps console passwords (app.vault.Vault); set by the
        # launcher once remote access is built, as a callable: the vault can change.
        self.vault_source: Callable[[], Vault | None] | None = None
        # Where VNC consoles find TLS certificates (connectors.console.tls.TlsOptions), as
        # a callable set by the launcher: the preference can change.
        self.tls_source: Callable[[], TlsOptions] | None = None
        self.protocol_memory = ProtocolMemory()
        self.target: tuple | None = None
        self.session: ConsoleSession | None = None
        self.pane: ConsolePane | None = None
        self.undocked: dict[tuple, ConsoleWindow] = {}
        self.placeholder = QLabel(NO_SELECTION)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.stack = QStackedLayout(self)
        self.stack.addWidget(self.placeholder)
        inventory.batchApplied.connect(self._batch_applied)
        # For the VM's context menu: the selected VM's remembered console passwords.
        self.forget_password_action = QAction("Forget Console Password", self)
        self.forget_password_action.setToolTip("Remove the selected VM's remembered console "
                                               "password from the keyring")
        self.forget_password_action.triggered.connect(self.forget_password)
        self.forget_password_action.setEnabled(False)

    def forget_password(self) -> None:
        """The selected VM's pane (docked or undocked) forgets; the sentence also goes to
        the main window's status bar, which shows whatever tab is current."""
        pane = self.undocked[self.target].pane if self.target in self.undocked else self.pane
        if pane is None:
            return
        task = pane.forget_password()
        if task is not None:
            task.add_done_callback(lambda _t: self._say(pane.last_message))

    def _say(self, text: str) -> None:
        window = self.window()
        if isinstance(window, QMainWindow) and text:
            window.statusBar().showMessage(text, 10_000)

    def set_selection(self, nodes: list) -> None:
        target = None
        if len(nodes) == 1 and nodes[0].kind is NodeKind.VM:
            vm = nodes[0].obj
            if any(g.type in PROTOCOLS for g in vm.graphics):
                target = (nodes[0].conn_id, nodes[0].key)
            else:
                self.placeholder.setText(f"{vm.name} has no VNC or SPICE display.")
        else:
            self.placeholder.setText(NO_SELECTION)
        self.forget_password_action.setEnabled(
            target is not None and self.vault_source is not None
            and self.vault_source() is not None)
        if target == self.target:
            return
        self._close_pane()
        self.target = target
        if target is None:
            return
        if target in self.undocked:
            self.placeholder.setText("This console is in its own window.")
            return
        vm = nodes[0].obj
        vault = self.vault_source() if self.vault_source is not None else None
        uri = self._uri(target)
        pool = self.manager.pool(target[0])
        opener = PoolConsoleOpener(pool, target[1]) if pool is not None else vm_opener(
            self.manager, *target, prompt=password_prompt(self.window, vault is not None),
            vault=vault, protocol=self.protocol_memory.get(uri, target[1]), **self._tls())
        session = ConsoleSession(opener, title=vm.name)
        pane = ConsolePane(session)
        pane.protocolChosen.connect(
            lambda protocol: self.protocol_memory.set(uri, target[1], protocol))
        self._show(pane, session)
        if self.isVisible():
            session.keep_connected()

    def _tls(self) -> dict:
        """VNC's TLS certificate folder (Preferences → Console), when the launcher set it."""
        return {"tls": self.tls_source()} if self.tls_source is not None else {}

    def _uri(self, target: tuple) -> str:
        host = self.manager.host(target[0])
        return host.uri if host is not None else str(target[0])

    def _show(self, pane: ConsolePane, session: ConsoleSession) -> None:
        self.session, self.pane = session, pane
        pane.undockRequested.connect(self.undock)
        pane.startRequested.connect(self._start_vm)
        self.stack.addWidget(pane)
        self.stack.setCurrentWidget(pane)
        # The keyboard reaching the tab (F6 from the tree) goes to the guest's screen.
        self.setFocusProxy(pane.view)

    def _close_pane(self) -> None:
        pane, session = self.pane, self.session
        self.pane = self.session = None
        self.setFocusProxy(None)  # type: ignore[arg-type]  # None clears it
        self.stack.setCurrentWidget(self.placeholder)
        if pane is not None:
            self.stack.removeWidget(pane)
            pane.deleteLater()
        if session is not None:
            _stop_later(session)

    # ---- undock / dock ----

    def undock(self) -> None:
        if self.pane is None or self.target is None:
            return
        pane, target = self.pane, self.target
        pane.undockRequested.disconnect(self.undock)
        self.setFocusProxy(None)  # type: ignore[arg-type]  # None clears it
        self.stack.removeWidget(pane)
        self.pane = self.session = None
        window = ConsoleWindow(pane, f"{pane.session.title} — Console")
        pane.undock_action.setText("Dock")
        pane.undockRequested.connect(window.close)
        window.closing.connect(lambda: self._dock(target, window))
        self.undocked[target] = window
        self.placeholder.setText("This console is in its own window.")
        self.stack.setCurrentWidget(self.placeholder)
        window.show()

    def _dock(self, target: tuple, window: ConsoleWindow) -> None:
        self.undocked.pop(target, None)
        pane = window.take_pane()
        pane.undockRequested.disconnect()
        pane.undock_action.setText("Undock")
        if target == self.target and self.pane is None:
            self._show(pane, pane.session)
        else:
            _stop_later(pane.session)
            pane.deleteLater()

    # ---- visibility and VM state ----

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.session is not None:
            self.session.keep_connected()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        if self.session is not None and not self.window().isMinimized():
            _stop_later(self.session, keep=True)

    def _batch_applied(self, keys) -> None:
        if self.session is not None and self.target in keys:
            self.session.retry_now()
        for target, window in self.undocked.items():
            if target in keys:
                window.pane.session.retry_now()

    def _start_vm(self) -> None:
        if self.start_action is not None and self.start_action.isEnabled():
            self.start_action.trigger()

    def close_all(self) -> None:
        self._close_pane()
        for window in list(self.undocked.values()):
            window.close()


def _stop_later(session: ConsoleSession, keep: bool = False) -> None:
    """Stop a session from a Qt handler (no coroutine to await in). Without a running
    loop (the window is being torn down) the connection is just closed."""
    import asyncio
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        session.close_now()
        return
    task = loop.create_task(session.stop())
    if not keep:
        task.add_done_callback(lambda _t: session.deleteLater())
