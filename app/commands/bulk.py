"""A command on many VMs at once: one question that says how many VMs on which servers
(and which selected ones are left out, and why), then one task group (app/task_group.py).

Every VM command goes this way when more than one VM would run, whether the VMs come from
the tree's multi-selection or from a search's results (``Command.run_on(nodes)``), so a
search can shut down 50 VMs with the same single confirmation as the tree.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from app.task_group import Skipped

if TYPE_CHECKING:
    from .base import Context, Verdict


def counted(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def target_of(ctx: Context, conn_id: str, name: str) -> str:
    """How a task's Events row names an object: "kvm1 » web-01"."""
    return f"{ctx.host_label(conn_id)} » {name}"


def where(ctx: Context, verdict: Verdict) -> str:
    """ "kvm1 (30) and kvm2 (20)": the servers of the VMs that will run, with counts."""
    per_host = Counter(ctx.host_label(n.conn_id) for n in verdict.runnable)
    parts = [f"{host} ({count})" for host, count in sorted(per_host.items())]
    if len(parts) <= 1:
        return parts[0].rsplit(" (", 1)[0] if parts else ""
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def question(verb: str, verdict: Verdict, ctx: Context, extra: str | None,
             what: str = "") -> str:
    """"Shut down 50 VMs on kvm1 (30) and kvm2 (20)?" plus what is left out and the
    command's own warning, if it has one; ``what`` says what changes ("add tag web")."""
    phrase = verb[:1] + verb[1:].lower()
    text = f"{phrase} {counted(len(verdict.runnable), 'VM')} on {where(ctx, verdict)}"
    text += f": {what}?" if what else "?"
    if verdict.refused:
        names = [f"{r.node.name}: {r.reason}" for r in verdict.refused[:5]]
        more = len(verdict.refused) - len(names)
        text += (f"\n\n{counted(len(verdict.refused), 'other selected VM')} "
                 f"{'is' if len(verdict.refused) == 1 else 'are'} left out:\n"
                 + "\n".join(names) + (f"\n… and {more} more" if more else ""))
    if extra:
        # The command's own warning, without its first line (which names the VMs).
        warning = extra.split("\n\n", 1)[-1] if "\n\n" in extra else ""
        if warning:
            text += "\n\n" + warning
    return text


def skipped(ctx: Context, verdict: Verdict) -> list[Skipped]:
    return [Skipped(target_of(ctx, r.node.conn_id, r.node.name), r.reason)
            for r in verdict.refused]
