"""VeNCrypt against real TLS VNC servers, with certificates from a throwaway CA:
QEMU's VNC server with X.509 credentials (tls-creds-x509, as libvirt's vnc_tls=1 sets
it up) and with anonymous TLS (tls-creds-anon), and TigerVNC's Xvnc with X509Vnc,
TLSVnc and X509Plain. The right CA gives the first frame, equal to the server's own
picture of its screen; another CA, or another name, is refused with a sentence that
says so. QEMU runs with no guest (its CPU never starts), so nothing here boots."""
from __future__ import annotations

import asyncio
import os

import pytest

from connectors.console.state import AuthenticationError, ConsoleError
from connectors.console.tls import TlsError, TlsOptions
from tests.conftest import unavailable
from tests.integration import vnc_servers as vs
from tests.tls_certs import ThrowawayCA



@pytest.fixture(autouse=True)
def _servers_installed():
    missing = vs.missing_tools("qemu-system-x86_64", "Xvnc", "xwd", "vncpasswd")
    if missing:
        unavailable(f"not installed: {missing} (scripts/setup.sh installs them)")

PASSWORD = "tls-pw-1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The server's directory, a client directory with the right CA and one with
    another CA."""
    root = tmp_path_factory.mktemp("pki")
    ca = ThrowawayCA.create()
    return {"server": ca.server_dir(root / "server"),
            "client": ca.client_dir(root / "client"),
            "with_client_cert": ca.client_dir(root / "mine", with_client_cert=True),
            "wrong": ThrowawayCA.create("Someone else's CA").client_dir(root / "wrong")}


@pytest.fixture(scope="module")
def qemu_x509(pki):
    server = vs.start_qemu_tls(pki["server"])
    yield server
    server.stop()


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def refused_as_a_wrong_password(coroutine) -> None:
    """Refused so that the user is asked again (not as a TLS or protocol failure)."""
    with pytest.raises(AuthenticationError) as refused:
        run(coroutine)
    assert refused.value.needs_password


def test_qemu_x509_with_the_right_ca_shows_qemus_screen(qemu_x509, pki):
    async def check():
        async with vs.console(qemu_x509.port, tls=TlsOptions(pki["client"]),
                              encodings=("raw",)) as client:
            await vs.first_frame(client)
            assert client.security == "VeNCrypt X509None"
            # QEMU writes "Guest has not initialized the display" on its blank VGA
            # a moment after it starts: wait for that picture, pixel for pixel.
            await vs.converges(client, qemu_x509.screen)
    run(check())


def test_qemu_x509_signed_by_another_ca_is_refused(qemu_x509, pki):
    async def check():
        async with vs.console(qemu_x509.port, tls=TlsOptions(pki["wrong"])):
            pass
    with pytest.raises(TlsError, match=r"is not trusted \(.*\): it was not signed by the CA "
                                       r"in .*wrong/ca-cert.pem"):
        run(check())


def test_qemu_x509_under_another_name_is_refused(qemu_x509, pki):
    async def check():
        async with vs.console(qemu_x509.port, tls=TlsOptions(pki["client"],
                                                             "vnc.example.org")):
            pass
    with pytest.raises(TlsError, match="not made out to 'vnc.example.org'"):
        run(check())


def test_qemu_that_checks_clients_takes_our_client_certificate(pki, tmp_path):
    """libvirt's vnc_tls_x509_verify=1: without client-cert.pem the refusal says what is
    missing; with one signed by the server's CA the screen comes."""
    server = vs.start_qemu_tls(pki["server"], verify_clients=True)
    try:
        async def check(directory):
            async with vs.console(server.port, tls=TlsOptions(directory),
                                  encodings=("raw",)) as client:
                await vs.first_frame(client)
                await vs.converges(client, server.screen)
        with pytest.raises(ConsoleError, match="client certificate"):
            run(check(pki["client"]))
        run(check(pki["with_client_cert"]))
    finally:
        server.stop()


def test_qemu_anonymous_tls_with_a_password():
    """TLSVnc: anonymous Diffie-Hellman (OpenSSL 3 at security level 0, TLS 1.2)."""
    server = vs.start_qemu_tls(None, password=PASSWORD)
    try:
        async def check(password):
            async with vs.console(server.port, password, encodings=("raw",)) as client:
                await vs.first_frame(client)
                assert client.security == "VeNCrypt TLSVnc"
                await vs.converges(client, server.screen)
        run(check(PASSWORD))
        refused_as_a_wrong_password(check("wrong"))
    finally:
        server.stop()


@pytest.mark.parametrize("security", ["X509Vnc", "TLSVnc", "X509None", "TLSNone"])
def test_xvnc_vencrypt_first_frame_is_the_x_screen(pki, security):
    server = vs.start_xvnc(security, password=PASSWORD, cert_dir=pki["server"])
    try:
        async def check():
            async with vs.console(server.port, PASSWORD, tls=TlsOptions(pki["client"]),
                                  encodings=("raw",)) as client:
                frame = await vs.first_frame(client)
                assert client.security == f"VeNCrypt {security}"
                assert (frame == await asyncio.to_thread(server.display.screen)).all()
        run(check())
    finally:
        server.stop()


def test_xvnc_x509_signed_by_another_ca_is_refused(pki):
    server = vs.start_xvnc("X509Vnc", password=PASSWORD, cert_dir=pki["server"])
    try:
        async def check(directory):
            async with vs.console(server.port, PASSWORD, tls=TlsOptions(directory)):
                pass
        with pytest.raises(TlsError, match="is not trusted"):
            run(check(pki["wrong"]))
    finally:
        server.stop()


@pytest.mark.parametrize("security", ["X509Plain", "TLSPlain", "Plain"])
def test_xvnc_plain_subtypes_log_in_a_local_user(pki, security):
    """User name and password, checked by PAM; Plain alone sends them in the clear and is
    chosen only when the server offers nothing else."""
    if os.geteuid() != 0:
        unavailable("a local user for PAM can only be made as root")
    user_password = "plain-pw-7"
    user = vs.ensure_plain_user(user_password)
    server = vs.start_xvnc(security, cert_dir=pki["server"],
                           extra=("-PlainUsers", user, "-PAMService", "tigervnc"))
    try:
        async def check(password):
            async with vs.console(server.port, password, tls=TlsOptions(pki["client"]),
                                  username=user) as client:
                await vs.first_frame(client)
                assert client.security == f"VeNCrypt {security}"
        run(check(user_password))
        if security == "X509Plain":   # PAM makes a refusal take seconds: once is enough
            refused_as_a_wrong_password(check("not-the-password"))
            # The command line takes the user from the address.
            from app.cli import main
            png = pki["client"].parent / "plain.png"
            assert main([f"vnc://{user}:{user_password}@127.0.0.1:{server.port}",
                         "--vnc-cert-dir", str(pki["client"]), "--screenshot",
                         str(png)]) == 0
            assert png.stat().st_size > 0
    finally:
        server.stop()


def test_command_line_screenshot_of_a_tls_console(qemu_x509, pki, tmp_path, capsys):
    """`hvconsole vnc://… --vnc-cert-dir DIR --screenshot FILE`: the right folder gives a
    PNG of QEMU's screen size; another CA's folder a sentence and exit status 1."""
    from PIL import Image

    from app.cli import main
    target = f"vnc://127.0.0.1:{qemu_x509.port}"
    png = tmp_path / "screen.png"
    assert main([target, "--vnc-cert-dir", str(pki["client"]), "--screenshot", str(png)]) == 0
    with Image.open(png) as image:
        assert image.size == qemu_x509.screen().shape[1::-1]
    assert main([target, "--vnc-cert-dir", str(pki["wrong"]),
                 "--screenshot", str(tmp_path / "no.png")]) == 1
    assert "is not trusted" in capsys.readouterr().err
    assert not (tmp_path / "no.png").exists()


def test_a_console_waits_for_the_user_after_an_untrusted_certificate(qemu_x509, pki, tmp_path,
                                                                     aloop):
    """The overlay keeps the sentence (no retry loop hammering the server); once the
    right ca-cert.pem is in place, Reconnect shows the screen."""
    import shutil

    from app.console_openers import address_opener
    from app.console_session import ConsoleSession
    from connectors.console.address import ConsoleAddress
    from connectors.console.state import ConsoleState
    from tests.conftest import wait_until

    folder = tmp_path / "pki"
    folder.mkdir()
    shutil.copy(pki["wrong"] / "ca-cert.pem", folder / "ca-cert.pem")
    opener = address_opener(ConsoleAddress("vnc", "127.0.0.1", qemu_x509.port),
                            tls=TlsOptions(folder))
    attempts = []

    async def counting_opener():
        attempts.append(1)
        return await opener.open()
    session = ConsoleSession(counting_opener, title="tls")
    session.keep_connected()
    try:
        aloop.run_until_complete(wait_until(
            lambda: "is not trusted" in session.status.reason, 30))
        assert session.status.state is ConsoleState.DISCONNECTED
        # A refused certificate is not retried by itself (a dropped link would be, after
        # half a second): two seconds later there was still only the one attempt.
        aloop.run_until_complete(asyncio.sleep(2))
        assert len(attempts) == 1
        shutil.copy(pki["client"] / "ca-cert.pem", folder / "ca-cert.pem")
        session.reconnect_at_user_request()
        aloop.run_until_complete(wait_until(lambda: session.connected, 30))
        assert session.client.security == "VeNCrypt X509None"
    finally:
        aloop.run_until_complete(session.stop())
