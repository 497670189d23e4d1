"""What benchmarks/fuzz_campaign.py fuzzes: every parser HVConsole feeds with bytes it does
not control, each as a ``Target`` taking one input as bytes.

A target says which exceptions are its parser's documented refusals (a ConsoleError from a
console protocol, ValueError from a URI, a ParseError from XML that is not XML); anything
else is a crash. Inputs come from three sources: hypothesis strategies (the ones of the
suite's fuzz tests, built from the same helpers in tests/unit/), mutations of seeds
(valid streams built after the protocol documents, and real captures: the QEMU SPICE
sessions of tests/unit/data and libvirt's own XML in benchmarks/fuzz_seeds/), and, where
atheris is installed, libFuzzer's coverage-guided mutations of the same seeds.
"""
from __future__ import annotations

import asyncio
import gzip
import os
import struct
import tempfile
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
SEEDS = Path(__file__).with_name("fuzz_seeds")
CAPTURES = ROOT / "tests" / "unit" / "data"
SCRATCH = Path(os.environ.get("HVCONSOLE_FUZZ_SCRATCH") or
               ("/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()))


@dataclass
class Target:
    name: str
    protocol: bool                       # a network protocol parser: the 1M-input goal
    run: Callable[[bytes], object]       # one input; raises only ``allowed``
    allowed: tuple[type[BaseException], ...]
    seeds: list[bytes]
    strategy: st.SearchStrategy[bytes]
    memory_bound: int = 64 << 20         # peak traced allocation for one input
    setup: Callable[[], None] = field(default=lambda: None)


# ---- console protocols ------------------------------------------------------------------

class _Loop:
    """One event loop for every input of a process (a new loop per input costs more than
    the parsing); replaced when a deadline interrupted it mid-run."""

    loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def run(cls, coro) -> object:
        if cls.loop is None or cls.loop.is_closed():
            cls.loop = asyncio.new_event_loop()
        try:
            return cls.loop.run_until_complete(coro)
        except BaseException:
            if cls.loop.is_running():
                cls.loop = None
            raise

    @classmethod
    def reset(cls) -> None:
        cls.loop = None


def _rfb_run(data: bytes) -> None:
    from connectors.console.state import ConsoleError
    from tests.unit.rfb_helpers import run_client

    async def go() -> None:
        try:
            await run_client(data, timeout=10,
                             encodings=("raw", "hextile", "zrle", "tight", "tightpng"))
        except ConsoleError:
            pass
    _Loop.run(go())


def _rfb_seeds() -> tuple[list[bytes], list[bytes]]:
    """(handshakes, framebuffer updates after a valid handshake), valid per RFC 6143."""
    from connectors.console.rfb import messages as m
    from tests.unit.rfb_helpers import bgrx, handshake_38, rect, server_init, update
    init = server_init(64, 48)
    handshakes = [
        handshake_38(),
        b"RFB 003.003\n" + struct.pack(">I", 1) + init,
        b"RFB 003.007\n" + bytes([1, 1]) + init,
        b"RFB 003.008\n" + bytes([1, 2]) + bytes(range(16)) + struct.pack(">I", 0) + init,
        b"RFB 003.008\n" + bytes([2, 2, 19]) + b"\x00\x02\x00" + bytes([2])
        + struct.pack(">2I", 256, 2) + b"\x01",
        b"RFB 003.008\n" + bytes([0]) + struct.pack(">I", 5) + b"nope!",
        b"RFB 003.008\n" + bytes([1, 1]) + struct.pack(">I", 1) + struct.pack(">I", 3) + b"bad",
    ]
    pixels = b"".join(bgrx(i * 16, 255 - i * 16, 7) for i in range(16))
    zrle_tile = zlib.compress(bytes([1, 10, 20, 30]))
    updates = [
        update(rect(0, 0, 4, 4, m.ENC_RAW, pixels)),
        update(rect(8, 8, 4, 4, m.ENC_COPYRECT, struct.pack(">HH", 0, 0))),
        update(rect(0, 0, 4, 4, m.ENC_HEXTILE, bytes([1]) + pixels)),
        update(rect(0, 0, 16, 16, m.ENC_HEXTILE, bytes([2]) + bgrx(1, 2, 3))),
        update(rect(0, 0, 4, 4, m.ENC_ZRLE, struct.pack(">I", len(zrle_tile)) + zrle_tile)),
        update(rect(0, 0, 8, 8, m.ENC_TIGHT, bytes([0x80, 1, 2, 3]))),
        update(rect(0, 0, 2, 2, m.ENC_TIGHT, bytes([0x00]) + bytes(12))),
        update(rect(0, 0, 32, 24, m.ENC_DESKTOP_SIZE)),
        update(rect(0, 0, 32, 24, m.ENC_EXTENDED_DESKTOP_SIZE,
                    bytes([1, 0, 0, 0]) + struct.pack(">IHHHHI", 0, 0, 0, 32, 24, 0))),
        update(rect(0, 0, 2, 2, m.ENC_CURSOR, pixels[:16] + bytes([0xC0, 0xC0]))),
        update(rect(0, 0, 0, 0, m.ENC_LAST_RECT)),
        update(rect(0, 0, 0, 0, m.ENC_QEMU_LED_STATE, bytes([3]))),
        struct.pack(">B3xI", 3, 5) + b"clip!",
        bytes([2]),
        struct.pack(">BxHH", 1, 0, 1) + struct.pack(">HHH", 1, 2, 3),
    ]
    return handshakes, [handshake_38() + u for u in updates]


def _rfb_strategies() -> tuple[st.SearchStrategy[bytes], st.SearchStrategy[bytes]]:
    """The suite's RFB fuzz strategies (tests/unit/test_rfb_fuzz.py, test_rfb_vencrypt.py)
    as whole streams."""
    from connectors.console.rfb import auth
    from connectors.console.rfb import messages as m
    from tests.unit.rfb_helpers import handshake_38, rect, update
    banners = st.sampled_from([b"RFB 003.003\n", b"RFB 003.007\n", b"RFB 003.008\n",
                               b"RFB 004.001\n"])
    vencrypt = st.builds(
        lambda subtypes, count, rest: (
            b"RFB 003.008\n" + bytes([1, 19]) + b"\x00\x02\x00"
            + bytes([len(subtypes) if count is None else count])
            + struct.pack(f">{len(subtypes)}I", *subtypes) + b"\x01" + rest),
        st.lists(st.sampled_from([*auth.VENCRYPT_SUBTYPES, 0, 263, 264, 2**32 - 1]),
                 max_size=5),
        st.one_of(st.none(), st.integers(0, 255)), st.binary(max_size=400))
    handshake = st.one_of(st.binary(max_size=300),
                          st.builds(lambda b, t: b + t, banners, st.binary(max_size=40)),
                          vencrypt)
    small = st.integers(0, 80)
    encodings = st.sampled_from([
        m.ENC_RAW, m.ENC_COPYRECT, m.ENC_HEXTILE, m.ENC_ZRLE, m.ENC_TIGHT, m.ENC_TIGHT_PNG,
        m.ENC_DESKTOP_SIZE, m.ENC_EXTENDED_DESKTOP_SIZE, m.ENC_CURSOR, m.ENC_LAST_RECT,
        m.ENC_QEMU_LED_STATE, m.ENC_QEMU_EXTENDED_KEY_EVENT,
        m.ENC_QEMU_POINTER_MOTION_CHANGE])
    rects = st.lists(st.builds(rect, small, small, small, small, encodings,
                               st.binary(max_size=200)), min_size=1, max_size=4)

    def zlib_rect(w: int, h: int, payload: bytes, sync: bool) -> bytes:
        stream = zlib.compressobj()
        data = stream.compress(payload) + stream.flush(
            zlib.Z_SYNC_FLUSH if sync else zlib.Z_FINISH)
        return update(rect(0, 0, w, h, m.ENC_ZRLE, struct.pack(">I", len(data)) + data))
    body = st.one_of(
        st.binary(max_size=600),
        st.builds(lambda rs: update(*rs), rects),
        st.builds(zlib_rect, st.integers(1, 64), st.integers(1, 48), st.binary(max_size=400),
                  st.booleans()),
        st.builds(lambda w, h, c, p: update(rect(0, 0, w, h, m.ENC_TIGHT, bytes([c]) + p)),
                  st.integers(1, 64), st.integers(1, 48), st.integers(0, 255),
                  st.binary(max_size=400)))
    return handshake, st.builds(lambda b: handshake_38() + b, body)


# SPICE

def _spice_stream(data: bytes) -> None:
    """Link one channel against ``data`` and run it: byte 0 picks main, inputs or cursor."""
    from connectors.console.client import ConsoleClient
    from connectors.console.spice.channel import SpiceChannel
    from connectors.console.spice.cursor import CursorChannel
    from connectors.console.spice.inputs import InputsChannel
    from connectors.console.spice.main import MainChannel
    from connectors.console.state import ConsoleError
    from tests.unit.spice_helpers import ScriptedSpice
    kind = (MainChannel, InputsChannel, CursorChannel)[data[0] % 3 if data else 0]

    async def go() -> None:
        channel = SpiceChannel(ScriptedSpice(data[1:]), kind(ConsoleClient()))
        try:
            await channel.link()
            await channel.run()
        except ConsoleError:
            pass
        finally:
            channel.close()
    _Loop.run(asyncio.wait_for(go(), 10))


def _ok_link() -> bytes:
    from tests.unit.spice_helpers import link_reply
    return link_reply() + struct.pack("<I", 0)


def _spice_link_seeds() -> list[bytes]:
    from tests.unit.spice_helpers import channels_list, link_reply, main_init, mini
    ok = _ok_link()
    return [bytes([0]) + ok + main_init() + channels_list([(1, 0), (2, 0), (3, 0), (4, 0)]),
            bytes([0]) + link_reply(error=3),
            bytes([1]) + ok + mini(101, struct.pack("<I", 1)),
            bytes([2]) + ok + mini(101, struct.pack("<HHIB", 0, 0, 0, 0)),
            bytes([0]) + link_reply(common=None) + struct.pack("<I", 0)]


def _spice_link_strategy() -> st.SearchStrategy[bytes]:
    """tests/unit/test_spice_fuzz.py's stream strategies."""
    from tests.unit.spice_helpers import mini
    kind = st.integers(0, 2).map(lambda k: bytes([k]))
    messages = st.lists(st.tuples(st.integers(0, 320), st.binary(max_size=120)), max_size=8)
    return st.one_of(
        st.builds(lambda k, d: k + d, kind, st.binary(max_size=300)),
        st.builds(lambda k, d: k + _ok_link() + d, kind, st.binary(max_size=600)),
        st.builds(lambda k, ms: k + _ok_link() + b"".join(mini(t, p) for t, p in ms),
                  kind, messages),
        st.builds(lambda k, t, s: k + _ok_link() + struct.pack("<HI", t, s) + bytes(64),
                  kind, st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)))


def _framed(data: bytes) -> list[tuple[int, memoryview]]:
    """Records of (type u16, size u32, payload), the capture format of tests/unit/data;
    a record running past the end keeps what there is."""
    out, pos, view = [], 0, memoryview(data)
    while pos + 6 <= len(data) and len(out) < 64:
        msg_type, size = struct.unpack_from("<HI", data, pos)
        out.append((msg_type, view[pos + 6:pos + 6 + size]))
        pos += 6 + size
    return out


def _frame(messages) -> bytes:
    return b"".join(struct.pack("<HI", t, len(p)) + bytes(p) for t, p in messages)


def _spice_messages(data: bytes) -> None:
    """Main, inputs, cursor and agent parsers with the channel framing already done."""
    from connectors.console.client import ConsoleClient
    from connectors.console.spice import agent
    from connectors.console.spice.cursor import CursorChannel
    from connectors.console.spice.inputs import InputsChannel
    from connectors.console.spice.main import MainChannel
    from connectors.console.state import ConsoleError
    if not data:
        return
    if data[0] % 4 == 3:
        stream = agent.AgentStream()
        cut = max(1, data[1] if len(data) > 1 else 1)
        for i in range(2, len(data), cut):
            try:
                stream.feed(data[i:i + cut])
            except ConsoleError:
                return
        return
    handler = (MainChannel, InputsChannel, CursorChannel)[data[0] % 4](ConsoleClient())
    for msg_type, payload in _framed(data[1:]):
        try:
            handler.handle(msg_type, payload)
        except ConsoleError:
            return
    if isinstance(handler, MainChannel):
        handler.set_monitor_size(1024, 768)
        handler.offer_clipboard("text")


def _spice_message_seeds() -> list[bytes]:
    from tests.unit.spice_helpers import agent_message
    init = struct.pack("<8I", 1, 1, 3, 1, 1, 5, 0, 0)
    agent_data = agent_message(2, struct.pack("<IIII", 1, 0, 1024, 768))
    return [bytes([0]) + _frame([(103, init), (104, struct.pack("<IBB", 1, 2, 0)),
                                 (107, b""), (109, agent_data), (113, b"\x05\0\0\0vm-1\0")]),
            bytes([0]) + _frame([(103, init), (109, agent_message(4, b"\x01\0\0\0"))]),
            bytes([1]) + _frame([(101, struct.pack("<I", 1)), (111, struct.pack("<H", 2))]),
            bytes([2]) + _frame([(101, struct.pack("<HHIB", 10, 10, 1, 1)),
                                 (102, struct.pack("<HH", 3, 4))]),
            bytes([3, 16]) + agent_data + agent_message(5, b"hello")]


def _spice_message_strategy() -> st.SearchStrategy[bytes]:
    """tests/unit/test_spice_fuzz.py's handler and agent strategies."""
    from tests.unit.spice_helpers import agent_message
    handler = st.builds(lambda k, ms: bytes([k]) + _frame(ms), st.integers(0, 2),
                        st.lists(st.tuples(st.integers(100, 130), st.binary(max_size=200)),
                                 max_size=6))
    agents = st.builds(lambda ms, cut: bytes([3, cut]) + b"".join(
        agent_message(t, p) for t, p in ms),
        st.lists(st.tuples(st.integers(0, 20), st.binary(max_size=80)), max_size=6),
        st.integers(1, 64))
    return st.one_of(handler, agents, st.binary(max_size=500))


def _display_run(data: bytes) -> None:
    from connectors.console.framebuffer import FramebufferError
    from connectors.console.spice import display as d
    from connectors.console.state import ProtocolError
    from tests.unit import spice_display_helpers as h
    from tests.unit.test_spice_display import Recorder
    client = Recorder()
    channel = d.DisplayChannel(client, cache_pixels=1 << 20, offscreen_pixels=1 << 20,
                               max_primary_pixels=1024 * 768)
    first = h.surface_create(0, 64, 48)
    channel.handle(first[0], memoryview(first[1]))
    for msg_type, payload in _framed(data):
        try:
            channel.handle(msg_type, payload)
        except (ProtocolError, FramebufferError):
            return


def _display_seeds() -> list[bytes]:
    """The suite's valid display messages, and windows of the recorded QEMU sessions."""
    from tests.unit.test_spice_display_fuzz import VALID
    seeds = [_frame([m]) for m in VALID] + [_frame(VALID)]
    for capture in sorted(CAPTURES.glob("spice_display_*.msgs.gz")):
        messages = _framed_all(gzip.decompress(capture.read_bytes()))
        for start in range(0, len(messages), 6):
            window = _frame(messages[start:start + 6])
            if len(window) < 64 << 10:
                seeds.append(window)
    return seeds


def _framed_all(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos + 6 <= len(data):
        msg_type, size = struct.unpack_from("<HI", data, pos)
        out.append((msg_type, data[pos + 6:pos + 6 + size]))
        pos += 6 + size
    return out


def _display_strategy() -> st.SearchStrategy[bytes]:
    """tests/unit/test_spice_display_fuzz.py's strategies: any bytes as any message, valid
    messages with fields overwritten by boundary values, and valid messages in any order."""
    from tests.unit.test_spice_display_fuzz import TYPES, VALID
    boundary = st.sampled_from([0, 1, 2, 7, 8, 15, 16, 63, 64, 255, 256, 4096, 8192, 8193,
                                65535, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])

    @st.composite
    def overwritten(draw) -> bytes:
        msg_type, payload = VALID[draw(st.integers(0, len(VALID) - 1))]
        body = bytearray(payload)
        for _ in range(draw(st.integers(1, 4))):
            if len(body) < 4:
                break
            struct.pack_into("<I", body, draw(st.integers(0, len(body) - 4)), draw(boundary))
        return _frame([(msg_type, bytes(body))])
    return st.one_of(
        st.builds(lambda t, p: _frame([(t, p)]), st.sampled_from(TYPES),
                  st.binary(max_size=400)),
        overwritten(),
        st.builds(lambda ix: _frame([VALID[i] for i in ix]),
                  st.lists(st.integers(0, len(VALID) - 1), min_size=1, max_size=12)))


# ---- addresses and files ------------------------------------------------------------------

def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _console_uri(data: bytes) -> None:
    from connectors.console.address import parse_console_uri
    parse_console_uri(_text(data))


def _scratch_file(data: bytes, suffix: str) -> Path:
    path = SCRATCH / f"hvconsole-fuzz-{os.getpid()}{suffix}"
    path.write_bytes(data)
    return path


def _vv_file(data: bytes) -> None:
    from connectors.console.address import read_vv_file
    read_vv_file(_scratch_file(data, ".vv"))


def _known_hosts(data: bytes) -> None:
    """ssh-keyscan's and ssh-keygen -F's output as hostkeys reads it, then the verdict."""
    from connectors.libvirt import hostkeys
    half = len(data) // 2
    offered = hostkeys._parse_lines(_text(data[:half]))
    trusted = hostkeys._parse_lines(_text(data[half:]))
    hostkeys.classify(offered, trusted)
    for key in offered:
        _ = key.fingerprint, key.label


def _connections_json(data: bytes) -> None:
    from app.config import ConnectionsStore
    path = _scratch_file(data, ".json")
    ConnectionsStore(path).load()
    for aside in path.parent.glob(f"{path.name}.corrupt-*"):
        aside.unlink()


def _preferences(data: bytes) -> None:
    """The INI file QSettings reads, through Preferences' sanitising of every key."""
    from PySide6.QtCore import QSettings

    from app import preferences
    _preferences.count = getattr(_preferences, "count", 0) + 1   # type: ignore[attr-defined]
    # A new name each time: QSettings caches a file by name and may not see a rewrite.
    path = _scratch_file(data, f".{_preferences.count}.conf")   # type: ignore[attr-defined]
    try:
        prefs = preferences.Preferences(QSettings(str(path), QSettings.Format.IniFormat))
        for key in preferences.SETTINGS:
            prefs.value(key)
        _ = prefs.groups, prefs.interval_s
    finally:
        path.unlink()


def _saved_searches(data: bytes) -> None:
    """An imported (or damaged) searches file, every query in it parsed."""
    from app.search.saved import from_document
    from_document(data)


def _search_errors() -> tuple[type[BaseException], ...]:
    from app.search.saved import SearchFileError
    return (SearchFileError,)


def _qt_core() -> None:
    from PySide6.QtCore import QCoreApplication
    if QCoreApplication.instance() is None:
        _qt_core.app = QCoreApplication([])   # type: ignore[attr-defined]


# ---- libvirt XML ----------------------------------------------------------------------------

def _domain_xml(data: bytes) -> None:
    from connectors.libvirt import readers
    from connectors.libvirt.domxml import domain
    model = domain.parse(_text(data))
    readers.vm_from_domain(model, "qemu", state=1, reason=1, persistent=True,
                           autostart=False, managed_save=False)
    model.to_xml()


def _network_xml(data: bytes) -> None:
    from connectors.libvirt import net_xml
    net_xml.parse_network(_text(data))


def _pool_xml(data: bytes) -> None:
    from connectors.libvirt import storage_xml
    text = _text(data)
    [storage_xml.parse_pool, storage_xml.parse_sources,
     lambda t: storage_xml.parse_volume(t, "v", "k", "/p", 1, 1)][len(data) % 3](text)


def _capabilities_xml(data: bytes) -> None:
    from connectors.libvirt import capabilities
    text = _text(data)
    if b"<domainCapabilities" in data[:200]:
        capabilities.parse_domain_capabilities(text)
    else:
        capabilities.parse_host_capabilities(text, 9_000_000, 7_002_000, text)


def _xml_seeds(*names: str) -> list[bytes]:
    return [(SEEDS / n).read_bytes() for n in names]


def _xml_strategy(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """Well-formed documents made of the seeds' own elements and attributes with hostile
    values (so the readers, not the XML parser, meet the nonsense), and any text."""
    tags, attributes = set(), set()
    for seed in seeds:
        for element in ET.fromstring(seed).iter():
            tags.add(element.tag)
            attributes.update(element.attrib)
    values = st.one_of(st.sampled_from(["", "0", "-1", "yes", "no", "on", "4294967296",
                                        "1e309", "nan", "::", "a" * 300, "/", "\u202e"]),
                       st.text(max_size=20))
    tag = st.sampled_from(sorted(tags))

    def element(children) -> st.SearchStrategy[ET.Element]:
        def build(name, attrs, text, kids):
            node = ET.Element(name, attrs)
            node.text = text
            node.extend(kids)
            return node
        return st.builds(build, tag, st.dictionaries(st.sampled_from(sorted(attributes)),
                                                     values, max_size=3),
                         st.one_of(st.none(), values), st.lists(children, max_size=4))
    tree = st.recursive(st.builds(ET.Element, tag), element, max_leaves=25)
    printable = st.characters(blacklist_categories=("Cs", "Cc"))
    documents = tree.map(lambda node: ET.tostring(node)).filter(lambda b: True)
    return st.one_of(documents, st.text(printable, max_size=300).map(str.encode),
                     st.binary(max_size=300))


# ---- XenAPI (connectors/xapi) ------------------------------------------------------------------

def _xapi_response(data: bytes) -> None:
    """A call's answer (XML-RPC when it starts with "<", else JSON-RPC) and, when it holds a
    struct, that struct read as event.from's batch."""
    from connectors.xapi import cache, wire
    parse = wire.parse_xmlrpc_response if data.lstrip()[:1] == b"<" else \
        wire.parse_json_response
    value = parse(data)
    if isinstance(value, dict):
        try:
            cache.parse_events(value)
        except ValueError:
            pass


def _xapi_rrd(data: bytes) -> None:
    from connectors.xapi import xport
    doc = xport.parse(data)
    for column in doc.columns[:4]:
        doc.series(column.owner, column.uuid, column.metric)


def _xapi_uri(data: bytes) -> None:
    from connectors.xapi import uri
    uri.parse(_text(data))


def _xapi_errors() -> tuple[type[BaseException], ...]:
    from connectors.xapi import wire
    return (wire.ProtocolError, wire.XapiFailure)


def _xapi_seeds() -> list[bytes]:
    import json
    import xmlrpc.client
    event = {"class": "VM", "operation": "mod", "ref": "OpaqueRef:1", "id": "1",
             "snapshot": {"uuid": "u-1", "name_label": "web1", "power_state": "Running"}}
    return [json.dumps({"jsonrpc": "2.0", "id": 1, "result": {
                "events": [event], "token": "5,6", "valid_ref_counts": {}}}).encode(),
            json.dumps({"jsonrpc": "2.0", "id": 1, "error": {
                "code": 1, "message": "HOST_IS_SLAVE", "data": ["10.0.0.2"]}}).encode(),
            json.dumps({"result": None, "id": 1, "error": [
                "SESSION_AUTHENTICATION_FAILED", "root", "x"]}).encode(),
            xmlrpc.client.dumps(({"Status": "Success", "Value": {
                "events": [event], "token": "7"}},), methodresponse=True).encode(),
            xmlrpc.client.dumps(({"Status": "Failure", "ErrorDescription": [
                "VM_BAD_POWER_STATE", "OpaqueRef:1", "halted", "running"]},),
                methodresponse=True).encode()]


XPORT_SEED = (b"<xport><meta><start>1000</start><step>5</step><end>1010</end><rows>2</rows>"
              b"<columns>2</columns><legend><entry>AVERAGE:vm:u-1:cpu0</entry>"
              b"<entry>AVERAGE:host:h-1:memory_free_kib</entry></legend></meta><data><row>"
              b"<t>1010</t><v>0.5</v><v>NaN</v></row><row><t>1005</t><v>0.25</v><v>2048</v>"
              b"</row></data></xport>")


def _xapi_targets() -> list[Target]:
    """Present once connectors/xapi is (the XenAPI connector)."""
    if not (ROOT / "connectors" / "xapi" / "wire.py").exists():
        return []
    from connectors.xapi.xport import XportError
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
            st.sampled_from(["jsonrpc", "result", "error", "id", "code", "message", "data",
                             "events", "token", "class", "operation", "ref", "snapshot"]),
            inner, max_size=5), max_leaves=20)
    import json
    response = st.one_of(st.binary(max_size=300),
                         json_values.map(lambda v: json.dumps(v).encode()))
    return [
        Target("xapi-response", True, _xapi_response, _xapi_errors(), _xapi_seeds(),
               response),
        Target("xapi-rrd-updates", True, _xapi_rrd, (XportError,), [XPORT_SEED],
               st.one_of(st.binary(max_size=400), st.lists(st.sampled_from([
                   b"<xport>", b"</xport>", b"<meta>", b"</meta>", b"<step>5</step>",
                   b"<start>1</start>", b"<end>2</end>", b"<legend>", b"</legend>",
                   b"<entry>AVERAGE:vm:u:cpu0</entry>", b"<data>", b"</data>", b"<row>",
                   b"</row>", b"<t>3</t>", b"<v>1.5</v>", b"<v>NaN</v>", b"<t>x</t>",
                   b"<step>0</step>"]), max_size=30).map(b"".join))),
        Target("xapi-uri", False, _xapi_uri, (ValueError,),
               [b"xapi://root@pool1.example:8443?fingerprint=SHA256:" + b"A" * 43,
                b"xapi://h", b"xapi://h?fingerprint=" + b":".join([b"AB"] * 32)],
               st.one_of(st.text(max_size=80).map(str.encode), st.binary(max_size=80))),
    ]


# ---- the list -------------------------------------------------------------------------------

def targets() -> list[Target]:
    from connectors.console.state import ConsoleError
    rfb_handshakes, rfb_updates = _rfb_seeds()
    rfb_handshake_strategy, rfb_update_strategy = _rfb_strategies()
    xml_errors = (ET.ParseError, ValueError)
    domain_seeds = _xml_seeds("domain_rich.xml", "domain_test.xml")
    network_seeds = _xml_seeds("network_test.xml", "network_nat.xml")
    pool_seeds = _xml_seeds("pool_test.xml", "pool_netfs.xml", "pool_sources.xml")
    caps_seeds = _xml_seeds("capabilities.xml", "domcapabilities.xml")
    uri_seeds = [b"vnc://kvm1.example:5901", b"vnc://:secret@[::1]:2",
                 b"spice://kvm1.example?port=5930&tls-port=5931&password=x",
                 b"spice+unix:///run/spice.sock", b"vnc://user:pw@host", b"spice://h:1"]
    vv_seeds = [b"[virt-viewer]\ntype=spice\nhost=kvm1.example\nport=5930\ntls-port=5931\n"
                b"password=ticket\ntitle=web1\nsecure-channels=main;inputs\n",
                b"[virt-viewer]\ntype=vnc\nhost=::1\nport=5901\nusername=alice\n"]
    blob = "AAAAC3NzaC1lZDI1NTE5AAAAI" + "A" * 43
    known_seeds = [f"kvm1.example ssh-ed25519 {blob}\n"
                   f"[kvm1.example]:2222 ecdsa-sha2-nistp256 {blob}\n"
                   "# Host kvm1.example found: line 3\n"
                   f"|1|abc=|def= ssh-rsa {blob}\n".encode()]
    connection_seeds = [b'{"version": 1, "connections": [{"uri": "qemu:///system"}, '
                        b'{"uri": "qemu+ssh://root@kvm1/system"}]}', b'[{"uri": "xen:///"}]']
    prefs_seeds = [b"[perf]\ninterval_s=2\ncollect_disk=true\nhistory_days=7\n"
                   b"[alerts]\nrules=\"[{\\\"target\\\": \\\"*vm\\\", \\\"metric\\\": "
                   b"\\\"cpu_percent\\\", \\\"threshold\\\": 90}]\"\n"]
    return [
        Target("rfb-handshake", True, _rfb_run, (ConsoleError,), rfb_handshakes,
               rfb_handshake_strategy),
        Target("rfb-encodings", True, _rfb_run, (ConsoleError,), rfb_updates,
               rfb_update_strategy),
        Target("spice-link", True, _spice_stream, (ConsoleError,), _spice_link_seeds(),
               _spice_link_strategy()),
        Target("spice-channels", True, _spice_messages, (ConsoleError,),
               _spice_message_seeds(), _spice_message_strategy()),
        Target("spice-display", True, _display_run, (), _display_seeds(),
               _display_strategy(), memory_bound=96 << 20),
        Target("console-uri", False, _console_uri, (ValueError,), uri_seeds,
               st.one_of(st.text(max_size=80).map(str.encode), st.binary(max_size=80))),
        Target("vv-file", False, _vv_file, (ValueError,), vv_seeds,
               st.one_of(st.binary(max_size=300), st.lists(st.tuples(
                   st.sampled_from(["type", "host", "port", "tls-port", "password", "title",
                                    "secure-channels", "username"]), st.text(max_size=20)),
                   max_size=8).map(lambda kv: ("[virt-viewer]\n" + "".join(
                       f"{k}={v}\n" for k, v in kv)).encode("utf-8", "surrogateescape")))),
        Target("domain-xml", False, _domain_xml, xml_errors, domain_seeds,
               _xml_strategy(domain_seeds)),
        Target("network-xml", False, _network_xml, xml_errors, network_seeds,
               _xml_strategy(network_seeds)),
        Target("pool-xml", False, _pool_xml, xml_errors, pool_seeds,
               _xml_strategy(pool_seeds)),
        Target("capabilities-xml", False, _capabilities_xml, xml_errors, caps_seeds,
               _xml_strategy(caps_seeds)),
        Target("known-hosts", False, _known_hosts, (), known_seeds,
               st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode))),
        Target("connections-json", False, _connections_json, (), connection_seeds,
               st.one_of(st.binary(max_size=300), st.recursive(
                   st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                   lambda c: st.lists(c, max_size=4) | st.dictionaries(
                       st.sampled_from(["uri", "version", "connections", "x"]), c,
                       max_size=4)).map(lambda v: __import__("json").dumps(v).encode()))),
        Target("preferences", False, _preferences, (), prefs_seeds,
               st.one_of(st.binary(max_size=300), st.lists(st.tuples(
                   st.sampled_from(sorted(_preference_keys())), st.text(max_size=30)),
                   max_size=6).map(lambda kv: "".join(
                       f"[{k.split('/')[0]}]\n{k.split('/')[1]}={v}\n"
                       for k, v in kv).encode("utf-8", "surrogateescape"))),
               setup=_qt_core),
        Target("saved-searches", False, _saved_searches, _search_errors(),
               [b'{"format": "hvconsole-searches", "version": 1, "searches": [{"name": '
                b'"busy", "query": "cpu > 80 and state = running", "group_by": "host", '
                b'"columns": ["name", "cpu"]}, {"name": "tagged", "query": "tag:web"}]}'],
               st.one_of(st.binary(max_size=300), st.builds(
                   lambda entries: __import__("json").dumps({
                       "format": "hvconsole-searches", "version": 1,
                       "searches": entries}).encode(),
                   st.lists(st.dictionaries(st.sampled_from(
                       ["name", "query", "group_by", "columns"]),
                       st.one_of(st.text(max_size=30), st.lists(st.text(max_size=8)),
                                 st.integers(), st.none()), max_size=4), max_size=4)))),
        *_xapi_targets(),
    ]


def _preference_keys() -> list[str]:
    from app import preferences
    return [k for k in preferences.SETTINGS if "/" in k]


__all__ = ["Target", "targets"]
