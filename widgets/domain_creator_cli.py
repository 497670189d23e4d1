"""``hvconsole --connect URI --show-domain-creator [--screenshot FILE]``: the New VM
wizard for that host straight away, as virt-manager's option of the same name opens its
creator. With --screenshot the wizard's first page is saved once it has read what the
host offers, and the exit status says whether it could (1, with the reason on stderr).
"""
from __future__ import annotations

import asyncio
import sys

from widgets.dialogs.new_vm.opening import open_new_vm


async def show_domain_creator(session, opened: list) -> int:
    await session.settle(opened)
    problems = session.connection_problems(opened)
    if not opened:
        problems.append("--show-domain-creator needs a server: give it with --connect URI")
    if problems:
        for problem in problems:
            session._problem(problem)
        if session.args.screenshot:
            session.window.grab().save(session.args.screenshot, "PNG")
            return 1
        await session._closed
        return 1
    wizard = open_new_vm(session.window, opened[0])
    wizard.finished.connect(lambda _result: session.window.close()
                            if not session.args.screenshot else None)
    if not session.args.screenshot:
        await session._closed
        return 0
    try:
        await wizard.load_task
    except asyncio.CancelledError:
        pass
    # The pages filled from the host's answers, and the preselected image looked at.
    await asyncio.sleep(0.3)
    for _ in range(300):
        if not wizard.plan.checking:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.1)
    pixmap = wizard.grab()
    if pixmap.isNull() or not pixmap.save(session.args.screenshot, "PNG"):
        print(f"hvconsole: cannot write the screenshot to {session.args.screenshot}",
              file=sys.stderr)
        return 2
    if wizard.session.error:
        session._problem(f"the New VM wizard could not read what the host offers: "
                         f"{wizard.session.error}")
        return 1
    return 0
