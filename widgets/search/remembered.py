"""The Search tab as it was left: query, grouping, columns and their widths come back at
the next start (in the settings file, beside the window's own layout), so a user who
arranged the results once does not do it again each morning. A saved search is still
the way to keep several arrangements by name.
"""
from __future__ import annotations

import json

from PySide6.QtCore import QSettings

from app import settings_file
from app.search.results import COLUMNS
from app.search.saved import GROUPINGS, SavedSearch
from widgets.search.tab import SearchTab

KEY = "search/last"


def _settings() -> QSettings:
    return QSettings("hvconsole", "hvconsole")


def forget() -> None:
    """The next window starts with a fresh Search tab (every VM, flat, default columns)."""
    settings = _settings()
    settings.remove(KEY)
    settings_file.sync(settings)


def save(tab: SearchTab) -> None:
    tab.remember_widths()
    search = tab.current_search()
    state = {"query": search.query, "group_by": search.group_by,
             "columns": list(search.columns), "widths": tab.column_widths(),
             "opened": tab.opened_name}
    settings = _settings()
    settings.setValue(KEY, json.dumps(state))
    settings_file.sync(settings)


def restore(tab: SearchTab) -> bool:
    """Puts the tab back as saved; False when nothing (usable) was saved."""
    raw = _settings().value(KEY, None)
    try:
        state = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return False
    if not isinstance(state, dict) or not isinstance(state.get("query"), str):
        return False
    columns = [c for c in state.get("columns") or [] if isinstance(c, str) and c in COLUMNS]
    group_by = state.get("group_by") if state.get("group_by") in GROUPINGS else ""
    widths = state.get("widths")
    if isinstance(widths, dict):
        tab.set_column_widths({k: v for k, v in widths.items()
                               if k in COLUMNS and isinstance(v, int) and 20 <= v <= 2000})
    opened = state.get("opened")
    opened = opened if isinstance(opened, str) else ""
    tab.open_search(SavedSearch(opened, state["query"], str(group_by),
                                tuple(columns) or SavedSearch("", "").columns))
    return True
