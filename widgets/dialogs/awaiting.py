"""Awaiting a dialog from a coroutine without a nested event loop.

``QDialog.exec()`` inside a coroutine that runs on the qasync loop would start a second
event loop in the middle of an asyncio step. ``run_dialog`` opens the dialog
window-modally with ``open()`` and awaits a future that its ``finished`` signal resolves.
"""
from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QDialog


async def run_dialog(dialog: QDialog) -> bool:
    """True when the user accepted the dialog; the dialog is closed and deleted after."""
    future: asyncio.Future = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not future.done():
            future.set_result(result == QDialog.DialogCode.Accepted)

    dialog.finished.connect(finished)
    dialog.open()
    try:
        return await future
    finally:
        dialog.finished.disconnect(finished)
        dialog.close()
        dialog.deleteLater()
