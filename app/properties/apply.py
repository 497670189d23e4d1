"""Carrying out a change list on the host, and saying what happened to each change.

The definition is written once, validated by libvirt, with every change in it: refused,
nothing else happens (volumes made for new disks are deleted again, a rename is undone)
and the refusal is one sentence for the dialog, which keeps the user's input. Steps on
the running VM and after the define each succeed or fail on their own: a refused one is
said ("… saved for the next start, not applied now: …") and the others still run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from connectors.libvirt import domain_ops, domxml
from connectors.libvirt.model import ActionError

from app.properties.changes import (Change, Phase, RemovalPending, RemovalRefused, Step,
                                    needs_define)
from app.properties.data import PropertiesHost
from app.properties.session import EditSession


@dataclass
class Outcome:
    """``refused``: the definition was not written (nothing changed) and why;
    ``position`` the (line, column) of an XML syntax error. ``notes``: what the user
    should know although it worked; ``problems``: steps that failed after the define."""

    refused: str | None = None
    position: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.refused is None and not self.problems


async def apply(host: PropertiesHost, session: EditSession,
                changes: list[Change]) -> Outcome:
    outcome = Outcome()
    name = session.vm_name
    text = _definition_text(session, outcome)
    if outcome.refused:
        return outcome
    done: list[Step] = []
    for change in changes:
        for step in _steps(change, Phase.BEFORE):
            try:
                await host.run(step.job, step.failed)
            except ActionError as err:
                await _undo(host, done)
                outcome.refused = str(err)
                return outcome
            done.append(step)
    if not session.data.facts.persistent:
        return await _transient(host, changes, outcome)
    if text is not None and needs_define(changes):
        if session.xml_text is not None:
            text = await _rename_for_xml(host, session, text, done, outcome)
            if outcome.refused:
                return outcome
        else:
            text = session.edited.to_xml()     # the BEFORE steps may have set paths
        try:
            await host.run(lambda c: domain_ops.define(c, text),
                           f"{name} was not changed")
        except ActionError as err:
            await _undo(host, done)
            outcome.refused = str(err)
            return outcome
    for phase in (Phase.LIVE, Phase.AFTER):
        for change in changes:
            for step in _steps(change, phase):
                await _run_after_define(host, step, change, phase, outcome)
    return outcome


async def _transient(host: PropertiesHost, changes: list[Change],
                     outcome: Outcome) -> Outcome:
    """A transient VM has no definition to write: what libvirt can change on the running
    VM is done, the rest is said (it would make the VM persistent, unasked)."""
    for change in changes:
        live = _steps(change, Phase.LIVE) + _steps(change, Phase.AFTER)
        if live:
            live = _steps(change, Phase.BEFORE) + live   # a new disk's volume first
        if not live:
            outcome.problems.append(f"{change.summary}: not applied; a transient VM has "
                                    "no definition for its next start.")
            continue
        for step in live:
            await _run_after_define(host, step, change, step.phase, outcome)
    return outcome


def _definition_text(session: EditSession, outcome: Outcome) -> str | None:
    """The XML to define: the XML page's text (checked to be a domain's XML first) or
    the edited model's."""
    if session.xml_text is None:
        return session.edited.to_xml()
    try:
        parsed = domxml.parse(session.xml_text)
    except domxml.DomainXMLError as err:
        outcome.refused = str(err)
        outcome.position = err.position
        return None
    if parsed.uuid and session.original.uuid and parsed.uuid != session.original.uuid:
        outcome.refused = ("The UUID on the XML page is another VM's: it identifies this "
                           "VM and cannot change.")
        return None
    return session.xml_text


async def _rename_for_xml(host: PropertiesHost, session: EditSession, text: str,
                          done: list[Step], outcome: Outcome) -> str:
    """A name changed on the XML page is a rename, which only a shut-off VM takes."""
    new = domxml.parse(text).name or ""
    old = session.original.name or ""
    if new == old:
        return text
    if session.running:
        outcome.refused = (f"Renaming {old} to {new} needs the VM shut off; the running "
                           "VM keeps its name.")
        return text
    key = session.data.vm.key
    step = Step(Phase.BEFORE, lambda c: domain_ops.rename(c, key, new),
                f"Could not rename {old}", lambda c: domain_ops.rename(c, key, old))
    try:
        await host.run(step.job, step.failed)
    except ActionError as err:
        await _undo(host, done)
        outcome.refused = str(err)
        return text
    done.append(step)
    return text


async def _run_after_define(host: PropertiesHost, step: Step, change: Change,
                            phase: Phase, outcome: Outcome) -> None:
    try:
        note = await host.run(step.job, step.failed)
    except ActionError as err:
        if phase is Phase.LIVE and change.config:
            outcome.problems.append(f"{change.summary}: saved for the next start, but not "
                                    f"applied now. {err}")
        else:
            outcome.problems.append(str(err))
        return
    except RemovalRefused as err:
        outcome.problems.append(str(err))
        return
    except RemovalPending as err:
        outcome.notes.append(str(err))
        return
    except ValueError as err:
        outcome.problems.append(f"{step.failed}: {err}")
        return
    if isinstance(note, str) and note:
        outcome.notes.append(note)


def _steps(change: Change, phase: Phase) -> list[Step]:
    return [s for s in change.steps if s.phase is phase]


async def _undo(host: PropertiesHost, done: list[Step]) -> None:
    for step in reversed(done):
        if step.undo is not None:
            try:
                await host.run(step.undo, "Could not undo a step")
            except ActionError:
                pass
