"""validate_uri: what users type, taken apart; what is wrong, said in a sentence."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from connectors.libvirt.uri import ParsedURI, validate_uri


@pytest.mark.parametrize("text, expected", [
    ("qemu:///system", dict(driver="qemu", transport="", host="", path="/system",
                            is_local=True, display_name="localhost")),
    ("qemu:///session", dict(driver="qemu", path="/session")),
    ("  QEMU:///system ", dict(uri="qemu:///system", driver="qemu")),
    ("xen:///system", dict(driver="xen", path="/system")),
    ("xen://", dict(uri="xen:///system", path="/system")),
    ("xen:///", dict(uri="xen:///system")),
    ("test:///default", dict(driver="test", path="/default")),
    ("test:///srv/lab/lab.xml", dict(driver="test", path="/srv/lab/lab.xml")),
    ("qemu+ssh://root@KVM1.example.org/system",
     dict(uri="qemu+ssh://root@kvm1.example.org/system", transport="ssh", user="root",
          host="kvm1.example.org", is_local=False, display_name="kvm1.example.org")),
    ("qemu+ssh://admin@kvm1:2222/system", dict(port=2222, user="admin", host="kvm1")),
    ("xen+ssh://root@xen-01/system", dict(driver="xen", transport="ssh", host="xen-01")),
    ("qemu+tls://kvm2.example.org/system", dict(transport="tls", port=None)),
    ("qemu+tcp://10.0.0.5:16509/system", dict(host="10.0.0.5", port=16509)),
    ("qemu://kvm3/system", dict(transport="", host="kvm3", is_local=False)),
    ("qemu+unix:///system", dict(transport="unix", is_local=True)),
    ("qemu+libssh2://u@h/system?known_hosts=/tmp/kh&sshauth=privkey",
     dict(transport="libssh2", params={"known_hosts": "/tmp/kh", "sshauth": "privkey"})),
    ("qemu+libssh://u@h/system", dict(transport="libssh")),
    ("qemu+ssh://root@[fe80::1]:22/system",
     dict(host="fe80::1", port=22, uri="qemu+ssh://root@[fe80::1]:22/system")),
    ("qemu:///system?no_verify=1", dict(params={"no_verify": "1"},
                                         uri="qemu:///system?no_verify=1")),
    ("lxc:///", dict(driver="lxc")),
    ("test+tcp://lab-host/default", dict(driver="test", transport="tcp", host="lab-host")),
])
def test_valid_uris_are_taken_apart(text, expected):
    parsed = validate_uri(text)
    assert isinstance(parsed, ParsedURI)
    for name, value in expected.items():
        assert getattr(parsed, name) == value, name


def test_the_normalised_uri_validates_to_itself():
    for text in ("qemu+ssh://Root@KVM1:2222/system?x=1", "XEN://", "test:///default"):
        once = validate_uri(text)
        assert validate_uri(once.uri) == once


@pytest.mark.parametrize("text, words", [
    ("", "Enter a libvirt URI"),
    ("   ", "Enter a libvirt URI"),
    ("qemu", "missing '://'"),
    ("qemu+ssh//host/system", "missing '://'"),
    ("qemu:/system", "missing '://'"),
    ("://system", "missing the driver"),
    ("qemu:///system extra words", "space"),
    ("qemu:///sys\ttem", "space"),
    ("kvm:///system", "Unknown driver 'kvm'"),
    ("foo+ssh://h/system", "Unknown driver 'foo'"),
    ("qemu+telnet://h/system", "Unknown transport 'telnet'"),
    ("qemu+://h/system", "names no transport"),
    ("qemu+ssh+tls://h/system", "more than one transport"),
    ("qemu+ssh:///system", "needs the host"),
    ("xen+libssh2:///system", "needs the host"),
    ("qemu+ssh://h:0/system", "port '0'"),
    ("qemu+ssh://h:65536/system", "port '65536'"),
    ("qemu+ssh://h:ssh/system", "port 'ssh'"),
    ("qemu+ssh://h:/system", "port ''"),
    ("qemu:///", "/system"),
    ("qemu://host", "/system"),
    ("qemu:///default", "/system"),
    ("xen:///session", "xen URI ends in /system"),
    ("test://", "test URI ends in /default"),
    ("test:///", "test URI ends in /default"),
    ("qemu+ssh://@h/system", "no user name"),
    ("qemu+ssh://ro ot@h/system", "space"),
    ("qemu+ssh://h!st/system", "host name 'h!st'"),
    ("qemu+ssh://[fe80::1/system", "closing ']'"),
    ("qemu+ssh://[zz]/system", "not an IPv6 address"),
    ("qemu:///system#frag", "no '#' part"),
    ("qemu://:22/system", "port is given without a host"),
    ("qemu:///system?=1", "no name"),
])
def test_invalid_uris_say_what_is_wrong(text, words):
    with pytest.raises(ValueError) as raised:
        validate_uri(text)
    message = str(raised.value)
    assert words in message
    assert message[0].isupper() and message.endswith("."), message


def test_the_unknown_driver_message_lists_the_known_ones():
    with pytest.raises(ValueError) as raised:
        validate_uri("kvm:///system")
    for driver in ("qemu", "xen", "lxc", "test", "vbox", "ch", "bhyve"):
        assert driver in str(raised.value)


_URI_ALPHABET = st.sampled_from(list("qemuxntsd+:/@[]?&=#%.-_ 0123456789abcfhlpryv\t\x00é٣"))


@settings(max_examples=600, deadline=None)
@given(st.one_of(
    st.text(),
    st.text(alphabet=_URI_ALPHABET, max_size=40),
    st.builds(lambda scheme, rest: f"{scheme}://{rest}",
              st.sampled_from(["qemu", "xen", "test", "qemu+ssh", "xen+tls", "lxc", "q+",
                               "", "qemu+ssh+tcp"]),
              st.text(alphabet=_URI_ALPHABET, max_size=30)),
))
def test_validate_uri_only_returns_or_raises_value_error(text):
    try:
        parsed = validate_uri(text)
    except ValueError as err:
        assert str(err).strip(), "an empty message helps nobody"
        return
    assert isinstance(parsed, ParsedURI)
    assert validate_uri(parsed.uri) == parsed
