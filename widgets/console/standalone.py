"""`hvconsole vnc://HOST:PORT`, `hvconsole spice://HOST:PORT` and `hvconsole FILE.vv`: just
a console window, like remote-viewer. With --screenshot FILE no window opens: the first
complete frame is saved as a PNG at full resolution and the program exits (for scripts
and bug reports). A SPICE server draws its first screen in several pieces, so the picture
is taken once the drawing has paused."""
from __future__ import annotations

import asyncio
import sys

from connectors.console.address import ConsoleAddress, parse_console_uri, read_vv_file
from connectors.console.state import ConsoleError

SCREENSHOT_TIMEOUT_S = 30.0
SETTLE_S = 0.3          # SPICE: no new drawing for this long means the screen is complete
SETTLE_MAX_S = 3.0


def address_of(target: str) -> ConsoleAddress:
    """Raises ValueError with a sentence. Any file that exists is read as a virt-viewer
    file: one a browser saved without its .vv (the desktop knows it by its
    ``[virt-viewer]`` line, packaging/*.mime.xml) is opened by a double-click too."""
    from pathlib import Path
    if target.endswith(".vv") or Path(target).is_file():
        return read_vv_file(target)
    return parse_console_uri(target)


def run(args) -> int:
    try:
        address = address_of(args.target)
    except ValueError as err:
        print(f"hvconsole: {err}", file=sys.stderr)
        return 2
    options = client_options(address, args.vnc_cert_dir)
    if args.screenshot:
        return asyncio.run(screenshot(address, args.screenshot, options=options))
    return run_window(address, options)


def client_options(address: ConsoleAddress, vnc_cert_dir: str | None) -> dict:
    """Where a VNC console finds its TLS certificates (--vnc-cert-dir), and the user name
    for VeNCrypt's Plain log-in (vnc://USER:PASSWORD@HOST, username= in a .vv file)."""
    if address.protocol != "vnc":
        return {}
    from pathlib import Path

    from connectors.console.tls import TlsOptions
    options: dict = {"username": address.username} if address.username else {}
    if vnc_cert_dir:
        options["tls"] = TlsOptions(cert_dir=Path(vnc_cert_dir))
    return options


async def screenshot(address: ConsoleAddress, path: str,
                     timeout: float = SCREENSHOT_TIMEOUT_S, options: dict | None = None) -> int:
    """The first complete screen of ``address`` as a PNG, through the same ConsoleSession
    and opener as the console window (no password is asked: the address's own, if any);
    the first failure ends it with the session's sentence."""
    from app.console_openers import address_opener
    from app.console_session import ConsoleSession
    from connectors.console.state import ConsoleState
    from PIL import Image

    session = ConsoleSession(address_opener(address, **(options or {})), address.display)
    failed: list[str] = []
    session.statusChanged.connect(
        lambda status: failed.append(status.reason)
        if status.state in (ConsoleState.DISCONNECTED, ConsoleState.UNAVAILABLE) else None)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    session.keep_connected()
    try:
        while not (session.connected and session.client is not None
                   and session.client.frames >= 1):
            if failed:
                raise ConsoleError(failed[0])
            if loop.time() > deadline:
                raise ConsoleError(f"no picture arrived within {timeout:g} s")
            await asyncio.sleep(0.02)
        if address.protocol == "spice":
            await _settled(session)
        Image.fromarray(session.framebuffer.rgb()).save(path, "PNG")
    except (ConsoleError, OSError) as err:
        print(f"hvconsole: {address.display}: {err}", file=sys.stderr)
        return 1
    finally:
        await session.stop()
    return 0


async def _settled(session) -> None:
    """Wait until no frame has arrived for SETTLE_S (at most SETTLE_MAX_S), or the
    connection ended."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + SETTLE_MAX_S
    client = session.client
    frames, quiet_since = client.frames, loop.time()
    while loop.time() < give_up and loop.time() - quiet_since < SETTLE_S:
        if not session.connected:
            return
        await asyncio.sleep(0.05)
        if client.frames != frames:
            frames, quiet_since = client.frames, loop.time()


def system_vault():
    """The desktop keyring when one answers (the standalone console asks nothing else at
    start: no encrypted-file password); None: "Remember password" is not offered."""
    from app.vault import KeyringVault
    try:
        vault = KeyringVault()
        return vault if vault.status().usable else None
    except Exception:  # noqa: BLE001 - no keyring is an ordinary desktop
        return None


def run_window(address: ConsoleAddress, options: dict | None = None) -> int:
    from widgets.event_loop import AsyncQtLoop
    from PySide6.QtWidgets import QApplication

    from app.console_openers import address_opener
    from app.console_session import ConsoleSession
    from app.version import APP_ID
    from widgets.console.pane import ConsolePane
    from widgets.console.window import ConsoleWindow, password_prompt
    from widgets.icons import app_icon

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("HVConsole")
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    # The window closing ends main() (which closes the connection first); Qt quitting on
    # the last closed window would stop the loop under it.
    app.setQuitOnLastWindowClosed(False)
    loop = AsyncQtLoop(app)
    asyncio.set_event_loop(loop)
    window_ref: list = []
    vault = system_vault()
    session = ConsoleSession(address_opener(address, password_prompt(
        lambda: window_ref[0] if window_ref else None, vault is not None), vault=vault,
        **(options or {})), title=address.display)
    window = ConsoleWindow(ConsolePane(session, can_undock=False), address.display)
    window_ref.append(window)

    async def main() -> int:
        from widgets.quit_signals import close_on_signals
        closed = asyncio.get_running_loop().create_future()
        def window_closed() -> None:
            if not closed.done():
                closed.set_result(None)
        window.closing.connect(window_closed)
        window.show()
        close_on_signals(asyncio.get_running_loop(), window)
        session.keep_connected()
        await closed
        await session.stop()
        return 0

    with loop:
        return loop.run_until_complete(main())
