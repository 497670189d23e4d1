"""The main window without a mouse: the palette's keys, moving between the panes, and
the tabs by number.

Panes, in order (F6 forward, Shift+F6 back, as in GNOME and Windows applications): the
left side's (filter box, tree, saved searches), the tab bar, the current tab's page (the
Console tab's page is the guest's screen). The console keeps every key for the guest
except Ctrl+Alt+Home, which is "Go to Tree" here (widgets/console/view.py lets exactly
that one through). Alt+1 … Alt+9 show the tabs in their order.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QTabWidget, QWidget

from widgets.console.view import LEAVE_KEY_TEXT


def keyed_action(text: str, keys: str | list[str], parent: QObject,
                 slot: Callable[[], object], tip: str = "") -> QAction:
    """A window action with its shortcut(s) said in its tooltip too."""
    action = QAction(text, parent)
    sequences = [QKeySequence(k) for k in ([keys] if isinstance(keys, str) else keys)]
    action.setShortcuts(sequences)
    action.triggered.connect(lambda _checked=False: slot())    # not the checked flag
    show_keys_in_tooltip(action, tip)
    return action


def show_keys_in_tooltip(action: QAction, tip: str = "") -> None:
    """"Command Palette (Ctrl+K, Ctrl+Shift+P)": the tooltip names the keys, as commands'
    tooltips do (app/commands/base.py)."""
    text = tip or action.text().replace("&", "").rstrip(".…")
    keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                     for k in action.shortcuts() if not k.isEmpty())
    action.setToolTip(f"{text} ({keys})" if keys else text)


def menu_actions(menus: list[QMenu]) -> list[tuple[str, list[QAction]]]:
    """(where, actions) for each menu and, after it, each of its submenus ("View › Tree
    Views"), for the palette and the tooltip pass."""
    found: list[tuple[str, list[QAction]]] = []

    def walk(where: str, menu: QMenu) -> None:
        found.append((where, menu.actions()))
        for action in menu.actions():
            submenu = action.menu()
            if isinstance(submenu, QMenu):
                walk(f"{where} › {action.text().replace('&', '')}", submenu)
    for menu in menus:
        walk(menu.title().replace("&", ""), menu)
    return found


def ensure_keys_in_tooltips(actions: list[QAction]) -> None:
    """Adds the keys to the tooltip of each action whose tooltip does not name them yet
    (actions made elsewhere; commands say theirs on every update)."""
    for action in actions:
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys and keys not in action.toolTip():
            show_keys_in_tooltip(action, action.toolTip())


def focus_into(widget: QWidget) -> bool:
    """Gives the keyboard to ``widget`` or, when it takes none itself, to the first child
    in its focus chain that takes the Tab key (a page's first field)."""
    target = widget.focusProxy() or widget
    if target.focusPolicy() & Qt.FocusPolicy.TabFocus and target.isEnabled():
        target.setFocus(Qt.FocusReason.ShortcutFocusReason)
        return True
    child = widget.nextInFocusChain()
    while child is not None and child is not widget and widget.isAncestorOf(child):
        if (child.isVisible() and child.isEnabled()
                and child.focusPolicy() & Qt.FocusPolicy.TabFocus):
            child.setFocus(Qt.FocusReason.ShortcutFocusReason)
            return True
        child = child.nextInFocusChain()
    return False


class KeyboardNavigation(QObject):
    """The window's navigation actions; ``actions`` is what the View menu lists."""

    def __init__(self, left_panes: list[QWidget], tree: QWidget, tabs: QTabWidget,
                 open_palette: Callable[[], object], open_commands: Callable[[], object],
                 parent: QWidget) -> None:
        super().__init__(parent)
        self._left = list(left_panes)
        self._tree = tree
        self._tabs = tabs
        self.palette_action = keyed_action(
            "Command &Palette…", "Ctrl+K", parent, open_palette,
            "Find and run any command, VM or server")
        self.commands_action = keyed_action(
            "Run Co&mmand…", "Ctrl+Shift+P", parent, open_commands,
            "Find and run a command by name")
        self.next_pane_action = keyed_action("Next &Pane", "F6", parent, self.next_pane)
        self.previous_pane_action = keyed_action("Pre&vious Pane", "Shift+F6", parent,
                                                 self.previous_pane)
        self.tree_action = keyed_action(
            "Go to &Tree", ["Ctrl+Alt+Home"], parent, self.focus_tree,
            f"Back to the tree, also from inside a console ({LEAVE_KEY_TEXT})")
        self.tab_actions: list[QAction] = []
        for index in range(min(9, tabs.count())):
            title = tabs.tabText(index)
            self.tab_actions.append(keyed_action(
                f"Show in {title}", f"Alt+{index + 1}", parent,
                partial(self.show_tab, index), f"Show the {title} tab"))
        for action in self.actions():
            parent.addAction(action)

    def actions(self) -> list[QAction]:
        return [self.palette_action, self.commands_action, self.tree_action,
                self.next_pane_action, self.previous_pane_action, *self.tab_actions]

    # ---- moving ----

    def panes(self) -> list[QWidget]:
        page = self._tabs.currentWidget()
        return [w for w in (*self._left, self._tabs.tabBar(), page)
                if w is not None and w.isVisible()]

    def current_pane(self) -> int:
        focused = self._tree.window().focusWidget()
        for i, pane in enumerate(self.panes()):
            if focused is not None and (focused is pane or pane.isAncestorOf(focused)):
                return i
        return -1

    def next_pane(self) -> None:
        self._step(1)

    def previous_pane(self) -> None:
        self._step(-1)

    def _step(self, step: int) -> None:
        panes = self.panes()
        current = self.current_pane()
        if current < 0:
            current = panes.index(self._tree) - step if self._tree in panes else 0
        for offset in range(1, len(panes) + 1):
            if focus_into(panes[(current + step * offset) % len(panes)]):
                return

    def focus_tree(self) -> None:
        self._tree.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_tab(self, index: int) -> None:
        """Shows the tab and puts the keyboard on its page (in the Console tab: the
        guest's screen)."""
        self._tabs.setCurrentIndex(index)
        page = self._tabs.widget(index)
        if page is not None:
            focus_into(page)
