"""HVConsole's ``<organize>`` metadata entry: what any writer (HVConsole, virsh, a
script) may have put there reads as normalised tags, folder and fields, junk never makes
reading raise, and every inventory read of a real (test driver) host carries the values.
"""
from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from connectors.libvirt import domxml, inventory_read, readers
from connectors.libvirt.domxml import organize
from connectors.libvirt.domxml.organize import ORGANIZE_NS, ORGANIZE_PREFIX

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LAB = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lab.xml"

# Any XML-legal text (what a user could type into the editor or virsh).
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",),
                             exclude_characters="\x00\ufffe\uffff"), max_size=30).filter(
    lambda s: all(ch in "\t\n\r" or ord(ch) >= 0x20 for ch in s))


def test_the_entry_libvirt_writes_reads_as_tags_folder_and_fields():
    dom = domxml.parse(
        "<domain type='kvm'><name>web-01</name><metadata>"
        f"<hvconsole:organize xmlns:hvconsole='{ORGANIZE_NS}'>"
        "<hvconsole:tag>web</hvconsole:tag><hvconsole:tag> prod </hvconsole:tag>"
        "<hvconsole:tag>web</hvconsole:tag><hvconsole:folder>/prod//web/</hvconsole:folder>"
        "<hvconsole:field name='owner'>alice</hvconsole:field>"
        "<hvconsole:field name='cost centre'>42</hvconsole:field>"
        "<hvconsole:unknown>kept out</hvconsole:unknown>"
        "</hvconsole:organize></metadata></domain>")
    org = dom.organization
    assert org.tags == ("prod", "web")
    assert org.folder == "/prod/web"
    assert org.custom_fields == (("cost centre", "42"), ("owner", "alice"))


def test_another_applications_namespace_is_not_ours():
    dom = domxml.parse(
        "<domain type='kvm'><name>a</name><metadata>"
        "<x:organize xmlns:x='urn:someone-else'><x:tag>web</x:tag></x:organize>"
        "</metadata></domain>")
    assert dom.organization == organize.EMPTY


@pytest.mark.parametrize("raw, expected", [
    ("", ""), ("/", ""), ("prod", "/prod"), (" /prod / web/ ", "/prod/web"),
    ("//a///b", "/a/b"), ("/a\tb/c", "/a b/c")])
def test_folder_paths_are_normalised(raw, expected):
    assert organize.normal_folder(raw) == expected


def test_a_field_set_to_nothing_is_removed():
    assert organize.normal_fields([("owner", "alice"), ("owner", " ")]) == ()
    assert organize.normal_fields([("b", "2"), ("a", "1"), ("b", "3")]) == (
        ("a", "1"), ("b", "3"))


@FUZZ
@given(tags=st.lists(TEXT, max_size=6), folder=TEXT,
       fields=st.lists(st.tuples(TEXT, TEXT), max_size=5))
def test_what_is_written_reads_back_the_same(tags, folder, fields):
    org = organize.organization(tags, folder, fields)
    assert organize.from_text(organize.to_text(org)) == org
    # Normalising twice changes nothing: what is read is what the editor would store.
    assert organize.organization(org.tags, org.folder, org.custom_fields) == org
    assert list(org.tags) == sorted(set(org.tags))
    assert [n for n, _v in org.custom_fields] == sorted({n for n, _v in org.custom_fields})


NAMES = st.sampled_from(["tag", "folder", "field", "organize", "x", "{urn:y}tag",
                         f"{{{ORGANIZE_NS}}}tag", f"{{{ORGANIZE_NS}}}field"])


@st.composite
def elements(draw, depth=2):
    element = ET.Element(draw(NAMES))
    element.text = draw(st.none() | TEXT)
    if draw(st.booleans()):
        element.set(draw(st.sampled_from(["name", "id", "{urn:z}name"])), draw(TEXT))
    if depth:
        for child in draw(st.lists(elements(depth=depth - 1), max_size=4)):
            child.tail = draw(st.none() | TEXT)
            element.append(child)
    return element


@FUZZ
@given(root=elements())
def test_any_element_reads_without_raising_and_normalised(root):
    org = organize.from_element(root)
    assert organize.organization(org.tags, org.folder, org.custom_fields) == org
    text = ET.tostring(root, encoding="unicode")
    assert isinstance(organize.from_text(text), organize.Organization)


@FUZZ
@given(text=st.text(max_size=200))
def test_any_text_from_get_metadata_reads_without_raising(text):
    assert isinstance(organize.from_text(text), organize.Organization)


@pytest.fixture
def conn():
    libvirt.registerErrorHandler(lambda *_args: None, None)
    c = libvirt.open(f"test://{LAB}")
    try:
        yield c
    finally:
        c.close()


def test_every_inventory_read_carries_what_set_metadata_stored(conn):
    dom = conn.defineXML(
        f"<domain type='test'><name>hv-organized</name><uuid>{uuid.uuid4()}</uuid>"
        "<memory unit='MiB'>256</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os></domain>")
    org = organize.organization(["web", "eu"], "/prod/web", [("owner", "alice")])
    dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, organize.to_text(org),
                    ORGANIZE_PREFIX, ORGANIZE_NS, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    one = readers.read_vm(dom, "test")
    bulk = {vm.name: vm for vm in inventory_read.read_all_vms(conn, "test")}["hv-organized"]
    for vm in (one, bulk):
        assert (vm.tags, vm.folder, vm.custom_fields) == (
            ("eu", "web"), "/prod/web", (("owner", "alice"),))
    assert organize.from_text(dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                                           ORGANIZE_NS, 0)) == org
