"""VeNCrypt (security type 19) against a small VeNCrypt server built on Python's own ssl
(a real TLS stack on a real socket, with certificates from a throwaway CA): which
sub-type is chosen, that the chain and the name are verified, the words of each refusal,
client certificates, anonymous TLS, and Plain's user name and password. The real
servers (QEMU, TigerVNC) are in tests/integration/test_console_vencrypt.py."""
from __future__ import annotations

import asyncio
import ssl
import struct
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from connectors.console.rfb import auth
from connectors.console.rfb.client import RfbClient
from connectors.console.state import AuthenticationError, ConsoleError
from connectors.console.tls import ANONYMOUS_CIPHERS, TlsError, TlsOptions
from connectors.console.transport import CommandTransport, TcpTransport
from tests.tls_certs import ThrowawayCA
from tests.unit.rfb_helpers import run_client, server_init


class VeNCryptServer:
    """Serves one connection: RFB 3.8, VeNCrypt 0.2 offering ``subtypes``, TLS with
    ``context``, the inner step of the chosen sub-type, then ServerInit."""

    def __init__(self, subtypes: list[int], context: ssl.SSLContext | None) -> None:
        self.subtypes, self.context = subtypes, context
        self.chosen: int | None = None
        self.plain: tuple[bytes, bytes] | None = None
        self.vnc_response: bytes | None = None
        self.peer_cert: dict | None = None
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader, writer) -> None:
        try:
            writer.write(b"RFB 003.008\n")
            await reader.readexactly(12)
            writer.write(bytes([1, 19]))
            assert (await reader.readexactly(1))[0] == 19
            writer.write(b"\x00\x02")
            assert await reader.readexactly(2) == b"\x00\x02"
            writer.write(b"\x00" + bytes([len(self.subtypes)])
                         + struct.pack(f">{len(self.subtypes)}I", *self.subtypes))
            (self.chosen,) = struct.unpack(">I", await reader.readexactly(4))
            _name, kind, inner = auth.VENCRYPT_SUBTYPES[self.chosen]
            if kind is not None:   # only TLS sub-types are acknowledged
                writer.write(b"\x01")
                await writer.drain()
                await writer.start_tls(self.context)
                self.peer_cert = writer.get_extra_info("peercert")
            if inner == "vnc":
                writer.write(bytes(16))
                self.vnc_response = await reader.readexactly(16)
            elif inner == "plain":
                ulen, plen = struct.unpack(">II", await reader.readexactly(8))
                self.plain = (await reader.readexactly(ulen), await reader.readexactly(plen))
            writer.write(struct.pack(">I", 0))
            await reader.readexactly(1)
            writer.write(server_init(32, 16))
            await writer.drain()
            await reader.read(1 << 16)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture(scope="module")
def ca():
    return ThrowawayCA.create()


def server_context(ca: ThrowawayCA, tmp_path, names=("localhost",), addresses=("127.0.0.1",),
                   require_client: bool = False) -> ssl.SSLContext:
    directory = ca.server_dir(tmp_path / "server", names, addresses)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server-cert.pem", directory / "server-key.pem")
    if require_client:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(directory / "ca-cert.pem")
    return context


def connect(subtypes, context, options: TlsOptions | None, password: str | None = None,
            username: str | None = None, host: str = "127.0.0.1"):
    async def run():
        server = VeNCryptServer(subtypes, context)
        port = await server.start()

        async def get_password():
            return password
        client = RfbClient(TcpTransport(host, port), password=get_password, tls=options,
                           username=username)
        try:
            await asyncio.wait_for(client.connect(), 20)
            return client, server
        finally:
            client.close()
            server.stop()
    return asyncio.run(run())


def test_x509_with_the_right_ca_connects_and_prefers_verified_tls(ca, tmp_path):
    options = TlsOptions(cert_dir=ca.client_dir(tmp_path / "client"))
    client, server = connect([auth.VENCRYPT_PLAIN, auth.VENCRYPT_TLS_NONE,
                              auth.VENCRYPT_X509_NONE], server_context(ca, tmp_path), options)
    assert server.chosen == auth.VENCRYPT_X509_NONE
    assert client.security == "VeNCrypt X509None"
    assert client.framebuffer.width == 32


def test_a_server_signed_by_another_ca_is_refused_with_the_ca_named(ca, tmp_path):
    options = TlsOptions(cert_dir=ThrowawayCA.create("other").client_dir(tmp_path / "other"))
    with pytest.raises(TlsError, match="is not trusted.*other/ca-cert.pem"):
        connect([auth.VENCRYPT_X509_VNC], server_context(ca, tmp_path), options, "pw")


def test_with_no_ca_file_the_sentence_says_where_to_put_one(ca, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TlsError, match=r"no ca-cert.pem was found in .*empty/127.0.0.1 or "
                                       r".*empty and .* put .* in .*empty/ca-cert.pem"):
        connect([auth.VENCRYPT_X509_NONE], server_context(ca, tmp_path), TlsOptions(empty))


def test_a_certificate_for_another_name_is_refused(ca, tmp_path):
    options = TlsOptions(cert_dir=ca.client_dir(tmp_path / "client"))
    context = server_context(ca, tmp_path, names=("vnc.example.org",), addresses=())
    with pytest.raises(TlsError, match="not made out to '127.0.0.1'"):
        connect([auth.VENCRYPT_X509_NONE], context, options)
    # ...and the name the certificate carries is accepted when the user names it.
    options = TlsOptions(cert_dir=options.cert_dir, server_name="vnc.example.org")
    assert connect([auth.VENCRYPT_X509_NONE], context, options)[1].chosen


def test_a_per_server_subdirectory_wins_over_the_common_one(ca, tmp_path):
    base = ThrowawayCA.create("other").client_dir(tmp_path / "pki")
    ca.client_dir(base / "127.0.0.1")
    client, _server = connect([auth.VENCRYPT_X509_NONE], server_context(ca, tmp_path),
                              TlsOptions(cert_dir=base))
    assert client.security == "VeNCrypt X509None"


def test_client_certificate_is_presented_when_the_server_asks(ca, tmp_path):
    context = server_context(ca, tmp_path, require_client=True)
    without = TlsOptions(cert_dir=ca.client_dir(tmp_path / "plain"))
    with pytest.raises(ConsoleError, match="client certificate"):
        connect([auth.VENCRYPT_X509_NONE], context, without)
    options = TlsOptions(cert_dir=ca.client_dir(tmp_path / "client", with_client_cert=True))
    _client, server = connect([auth.VENCRYPT_X509_NONE], context, options)
    assert dict(x[0] for x in server.peer_cert["subject"])["commonName"] == "hvconsole-client"


def test_subtypes_we_do_not_speak_are_named(ca, tmp_path):
    with pytest.raises(AuthenticationError, match="X509SASL, TLSSASL.*supports X509None"):
        connect([264, 263], server_context(ca, tmp_path), None)


def test_anonymous_tls_and_the_vnc_password_inside_it(tmp_path):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ANONYMOUS_CIPHERS)
    client, server = connect([auth.VENCRYPT_TLS_VNC], context, None, password="secret")
    assert client.security == "VeNCrypt TLSVnc"
    assert server.vnc_response == auth.vnc_auth_response("secret", bytes(16))


def test_plain_inside_tls_sends_user_and_password(ca, tmp_path):
    options = TlsOptions(cert_dir=ca.client_dir(tmp_path / "client"))
    _client, server = connect([auth.VENCRYPT_X509_PLAIN], server_context(ca, tmp_path),
                              options, password="pässword", username="alice")
    assert server.plain == (b"alice", "pässword".encode())


def test_plain_without_tls_when_nothing_else_is_offered(tmp_path):
    _client, server = connect([auth.VENCRYPT_PLAIN], None, None, password="pw",
                              username="bob")
    assert server.plain == (b"bob", b"pw")


def test_no_password_for_an_inner_vnc_auth_asks_for_one(ca, tmp_path):
    options = TlsOptions(cert_dir=ca.client_dir(tmp_path / "client"))
    with pytest.raises(AuthenticationError, match="needs a password") as err:
        connect([auth.VENCRYPT_X509_VNC], server_context(ca, tmp_path), options)
    assert err.value.needs_password


PROXY = """
import os, select, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
while True:
    ready = select.select([0, s], [], [])[0]
    if 0 in ready:
        data = os.read(0, 65536)
        if not data:
            break
        s.sendall(data)
    if s in ready:
        data = s.recv(65536)
        if not data:
            break
        os.write(1, data)
"""


def test_tls_runs_over_a_command_stream_as_over_ssh(ca, tmp_path):
    """A qemu+ssh:// console is a process's stdin/stdout (ssh -W): TLS must run there
    too. A small proxy process stands in for ssh."""
    options = TlsOptions(cert_dir=ca.client_dir(tmp_path / "client"), server_name="localhost")

    async def run():
        server = VeNCryptServer([auth.VENCRYPT_X509_NONE], server_context(ca, tmp_path))
        port = await server.start()
        transport = CommandTransport([sys.executable, "-c", PROXY, str(port)], "proxy")
        client = RfbClient(transport, tls=options)
        try:
            await asyncio.wait_for(client.connect(), 20)
            return client.security, client.framebuffer.width
        finally:
            client.close()
            server.stop()
    assert asyncio.run(run()) == ("VeNCrypt X509None", 32)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subtypes=st.lists(st.sampled_from([*auth.VENCRYPT_SUBTYPES, 0, 263, 264, 2**32 - 1]),
                         max_size=5),
       count=st.one_of(st.none(), st.integers(0, 255)), rest=st.binary(max_size=400))
def test_hostile_vencrypt_streams_end_in_a_console_error(subtypes, count, rest):
    """Whatever a server says once VeNCrypt is chosen (odd versions, sub-type counts,
    garbage where the TLS handshake should be), the client stops with a ConsoleError
    within its timeout and never asks for more than it was told to expect."""
    count = len(subtypes) if count is None else count
    data = (b"RFB 003.008\n" + bytes([1, 19]) + b"\x00\x02\x00" + bytes([count])
            + struct.pack(f">{len(subtypes)}I", *subtypes) + b"\x01" + rest)

    async def go():
        try:
            await run_client(data, timeout=10, encodings=("raw",))
        except ConsoleError:
            pass
    asyncio.run(go())
