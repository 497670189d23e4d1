"""Preferences → Migration: how many migrations run at once (the rest wait their turn)."""
from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel, QSpinBox

from app import migration

from .preferences import PreferencesPage, register_page


@register_page
class MigrationPage(PreferencesPage):
    title = "Migration"
    order = 50

    def __init__(self, preferences, context=None, parent=None) -> None:
        super().__init__(preferences, context, parent)
        self.parallel = QSpinBox()
        self.parallel.setObjectName("maxParallelMigrations")
        self.parallel.setRange(*migration.MAX_PARALLEL_LIMITS)
        note = QLabel("Several VMs selected, or a host put into maintenance mode: each VM "
                      "is one migration; the ones beyond this number wait for a place. "
                      "Each running migration takes network bandwidth and CPU on both "
                      "hosts.")
        note.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Migrations at once:", self.parallel)
        form.addRow("", note)

    def load(self) -> None:
        self.parallel.setValue(self.preferences.value(migration.MAX_PARALLEL))

    def apply(self) -> None:
        self.preferences.set_value(migration.MAX_PARALLEL, self.parallel.value())
