"""Opening a libvirt connection: openAuth in a worker, credentials asked on the loop.

libvirt asks for credentials through a callback that it calls inside openAuth, in the
worker thread; the user answers in a dialog on the loop thread. The callback therefore
waits in the worker for the async ``auth`` callback, and the call timeout pauses while
the user is answering (a password typed slowly is not a host that does not answer).
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, Future

import libvirt

from connectors.libvirt import readers
from connectors.libvirt.model import ConnectError, CredentialRequest, CredentialType
from connectors.libvirt.uri import libvirt_uri, validate_uri

log = logging.getLogger(__name__)

AuthCallback = Callable[[str, list[CredentialRequest]], Awaitable[list[str] | None]]

AUTH_WAIT_S = 900.0         # how long libvirt's credential callback waits for the user

# An in-process driver (libvirt's test driver: the demo, the scale benchmark) builds its
# whole host in this process when opened, CPU work that gains nothing from running more at
# once than there are cores: with twenty at once every host finished last, together, and
# only then could the first be read. A few at a time, the first hosts are read and shown
# while the others still open.
_IN_PROCESS_OPENS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))

_CREDENTIAL_TYPES = {
    libvirt.VIR_CRED_USERNAME: CredentialType.USERNAME,
    libvirt.VIR_CRED_AUTHNAME: CredentialType.AUTHNAME,
    libvirt.VIR_CRED_PASSPHRASE: CredentialType.PASSPHRASE,
    libvirt.VIR_CRED_ECHOPROMPT: CredentialType.ECHOPROMPT,
    libvirt.VIR_CRED_NOECHOPROMPT: CredentialType.NOECHOPROMPT,
    libvirt.VIR_CRED_REALM: CredentialType.REALM,
    libvirt.VIR_CRED_EXTERNAL: CredentialType.EXTERNAL,
}

# libvirt's form of one credential: [type, prompt, challenge, default, result]; the
# callback fills in the result.
Credential = list[object]
CredentialCallback = Callable[[list[Credential], object], int]


def quiet_libvirt_errors() -> None:
    """libvirt prints every error to stderr by default; ours reach the user as exceptions."""
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def runs_in_process(uri: str) -> bool:
    """libvirt's test driver runs in this process unless a transport or host sends the
    URI to a libvirtd (test+unix:///..., test://host/...)."""
    try:
        parsed = validate_uri(uri)
    except ValueError:
        return False
    return parsed.driver == "test" and not parsed.transport and parsed.is_local


def _request(credential: Sequence[object]) -> CredentialRequest:
    kind, prompt, challenge, default = credential[:4]

    def text(value: object) -> str:
        return value if isinstance(value, str) else ""

    return CredentialRequest(
        _CREDENTIAL_TYPES.get(kind, CredentialType.ECHOPROMPT)
        if isinstance(kind, int) else CredentialType.ECHOPROMPT,
        text(prompt), text(challenge), text(default))


class Opener:
    """Opens one URI with libvirt.openAuth, asking ``auth`` (on the loop) for what libvirt
    wants to know. ``cancelled`` says whether the last attempt failed because the user
    gave no credentials."""

    def __init__(self, uri: str, auth: AuthCallback | None, in_process: bool) -> None:
        self.uri = uri
        self.auth = auth
        self.in_process = in_process
        self.cancelled = False
        self._activity = 0            # changes while the user answers a prompt
        self._waiting = False

    async def open(self, executor: Executor, display: str, timeout_s: float,
                   early: Future[libvirt.virConnect] | None = None) -> libvirt.virConnect:
        """The open connection; ConnectError worded for the user. The timeout counts
        only while nobody is answering a credential prompt. ``early``: the same URI
        already being opened unattended (early_open.py); when that failed (it wanted
        credentials, or libvirt refused) the URI is opened again, asking the user."""
        if early is not None:
            try:
                return await self._finished(asyncio.wrap_future(early), display, timeout_s)
            except libvirt.libvirtError as err:
                log.debug("%s: the early open failed (%s); opening again", self.uri, err)
        loop = asyncio.get_running_loop()
        self.cancelled = False
        try:
            return await self._finished(
                loop.run_in_executor(executor, self._open_blocking, loop), display,
                timeout_s)
        except libvirt.libvirtError as err:
            if self.cancelled:
                raise ConnectError(f"Connecting to {display} was cancelled: no "
                                   "credentials were given.") from None
            raise ConnectError(f"Could not connect to {display}: "
                               f"{readers.error_text(err)}") from None

    async def _finished(self, future: asyncio.Future[libvirt.virConnect], display: str,
                        timeout_s: float) -> libvirt.virConnect:
        """The opened connection, or what the open raised; ConnectError when it took
        longer than ``timeout_s`` while no prompt was open."""
        # If we stop waiting, the worker's late failure must not be logged as unretrieved.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        seen_activity = self._activity
        while True:
            done, _ = await asyncio.wait({future}, timeout=timeout_s)
            if done:
                return future.result()
            if self._waiting or self._activity != seen_activity:
                seen_activity = self._activity
                continue
            raise ConnectError(f"{display} did not answer within {timeout_s:g} s. "
                               "Check that the host is up and reachable.")

    def credential_callback(self, loop: asyncio.AbstractEventLoop) -> CredentialCallback:
        """libvirt's credential callback, called inside openAuth in the worker thread; it
        waits there for the async ``auth`` callback, which runs on the loop (where dialogs
        live). Returns -1 (libvirt's "failed") when the user cancels."""
        def ask(credentials: list[Credential], _opaque: object) -> int:
            if self.auth is None:
                return -1
            auth = self.auth
            requests = [_request(c) for c in credentials]

            async def asked() -> list[str] | None:
                return await auth(self.uri, requests)

            self._waiting = True
            self._activity += 1
            try:
                answers = asyncio.run_coroutine_threadsafe(asked(), loop).result(AUTH_WAIT_S)
            except Exception:
                log.exception("asking for credentials for %s failed", self.uri)
                answers = None
            finally:
                self._waiting = False
                self._activity += 1
            if answers is None or len(answers) < len(credentials):
                self.cancelled = True
                return -1
            for credential, answer in zip(credentials, answers, strict=False):
                credential[4] = answer
            return 0

        return ask

    def _open_blocking(self, loop: asyncio.AbstractEventLoop) -> libvirt.virConnect:
        return _open_auth(self.uri, self.credential_callback(loop), self.in_process)


def open_unattended(uri: str) -> libvirt.virConnect:
    """Opens ``uri`` with nobody to ask: a credential request is refused. Blocks."""
    return _open_auth(uri, lambda _credentials, _opaque: -1, runs_in_process(uri))


def _open_auth(uri: str, callback: CredentialCallback, in_process: bool) -> libvirt.virConnect:
    auth = [list(_CREDENTIAL_TYPES), callback, None]
    if in_process:
        with _IN_PROCESS_OPENS:
            return libvirt.openAuth(libvirt_uri(uri), auth, 0)
    return libvirt.openAuth(libvirt_uri(uri), auth, 0)
