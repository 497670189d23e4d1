"""Alerts a server keeps itself (XAPI's messages) in the Alerts list, as XenCenter shows
them: severity from XAPI's priority, the object they concern, Dismiss = message.destroy.

A pool says which messages it holds (``ServerAlertsChanged`` through the connection
manager): all of them after each (re)connect or resync, then each raised or destroyed,
by anyone. The list follows that and nothing else: a dismissal is a Task that asks the
pool to destroy the messages, and the rows go when the pool's event says they are gone,
so a refused dismissal (a lost connection, a read-only user) leaves the alert listed and
the Task's row in the Events log says why. A pool the user disconnects takes its alerts
with it (they can no longer be dismissed; the next connect lists them again); one that
is only reconnecting keeps them, since the server still has them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from PySide6.QtCore import QObject, Signal

from app.perf.alerts import AlertsModel
from connectors.libvirt.model import ActionError, ConnState, ServerAlert, ServerAlertsChanged
from connectors.xapi import messages

if TYPE_CHECKING:
    from app.tasks import Task, TaskManager

FIRING_PRIORITY = 3     # service degraded or worse counts as firing (tab title, status bar)


@dataclass(frozen=True)
class PoolAlert:
    """One XAPI message as a row of the Alerts list (see AlertsModel for the shape)."""

    conn_id: str
    alert: ServerAlert
    place: str              # the pool's label: where the object is

    on_server: ClassVar[bool] = True

    @property
    def wall(self) -> float:
        return self.alert.wall

    @property
    def name(self) -> str:
        return self.alert.obj_name or self.place

    @property
    def message(self) -> str:
        alert = self.alert
        return f"{alert.title}: {alert.body}" if alert.body else alert.title

    @property
    def ident(self) -> tuple[str, str, str]:
        return ("server", self.conn_id, self.alert.key)

    @property
    def severity(self) -> str:
        return messages.severity(self.alert.priority)

    @property
    def firing(self) -> bool:
        return self.alert.priority <= FIRING_PRIORITY

    @property
    def tooltip(self) -> str:
        return (f"{self.place}: {self.alert.name}, priority {self.alert.priority} "
                f"({messages.priority_words(self.alert.priority).lower()}); "
                "Dismiss removes it from the pool")

    def status_text(self, ended: float | None) -> str:
        return messages.priority_words(self.alert.priority)


class ServerAlerts(QObject):
    """Keeps ``model``'s server alerts as the pools say; ``alertRaised(PoolAlert)`` for a
    new one at service-degraded priority or worse (the desktop notification)."""

    alertRaised = Signal(object)

    def __init__(self, manager, model: AlertsModel, tasks: TaskManager,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.model = model
        self.tasks = tasks
        manager.serverAlertsChanged.connect(self._changed)
        manager.stateChanged.connect(self._state_changed)
        manager.connectionRemoved.connect(self._drop)
        model.serverDismissRequested.connect(self.dismiss)

    def listed(self, conn_id: str) -> list[PoolAlert]:
        return [a for a in self.model.alerts()
                if isinstance(a, PoolAlert) and a.conn_id == conn_id]

    def _changed(self, conn_id: str, event: ServerAlertsChanged) -> None:
        if event.full:
            self._drop(conn_id)
        else:
            gone = set(event.removed) | {a.key for a in event.added}
            self.model.remove_where(lambda a: isinstance(a, PoolAlert)
                                    and a.conn_id == conn_id and a.alert.key in gone)
        place = self.manager.label(conn_id)
        for alert in sorted(event.added, key=lambda a: a.wall):     # newest ends on top
            row = PoolAlert(conn_id, alert, place)
            self.model.add(row)
            if not event.full and row.firing:
                self.alertRaised.emit(row)

    def _state_changed(self, conn_id: str) -> None:
        if self.manager.state(conn_id)[0] is ConnState.DISCONNECTED:
            self._drop(conn_id)

    def _drop(self, conn_id: str) -> None:
        self.model.remove_where(lambda a: isinstance(a, PoolAlert) and a.conn_id == conn_id)

    def dismiss(self, alerts: list) -> list[Task]:
        """One Task per pool that destroys its messages among ``alerts``."""
        by_pool: dict[str, list[PoolAlert]] = {}
        for alert in alerts:
            if isinstance(alert, PoolAlert):
                by_pool.setdefault(alert.conn_id, []).append(alert)
        started = []
        for conn_id, rows in by_pool.items():
            if len(rows) == 1:
                title = f"Dismissing alert \u201c{rows[0].alert.title}\u201d"
                target = f"{self.manager.label(conn_id)} » {rows[0].name}"
            else:
                title = f"Dismissing {len(rows)} alerts"
                target = self.manager.label(conn_id)
            started.append(self.tasks.run(title, target, self._destroyer(conn_id, rows)))
        return started

    def _destroyer(self, conn_id: str, rows: list[PoolAlert]):
        async def destroy(task: Task) -> str | None:
            pool = self.manager.pool(conn_id)
            if pool is None:
                raise ActionError("the pool's connection is gone")
            refused = []
            for done, row in enumerate(rows):
                try:
                    await pool.dismiss_alert(row.alert.key)
                except ActionError as err:
                    refused.append(str(err))
                task.set_progress(round((done + 1) * 100 / len(rows)))
            if refused:
                if len(rows) == 1:
                    raise ActionError(refused[0])
                raise ActionError(f"{len(refused)} of {len(rows)} alerts were not "
                                  f"dismissed: {refused[0]}")
            return None
        return destroy
