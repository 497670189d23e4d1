"""The host's USB devices as Properties lists them, read from a real libvirt driver: the
test driver serves node devices from a file of our own (no USB device is plugged into
this machine, and no machine's hubs are worth offering)."""
from __future__ import annotations

import libvirt
import pytest

from connectors.libvirt import nodedev

NODE = """<node>
  <device>
    <name>usb_1_4</name>
    <parent>computer</parent>
    <capability type='usb_device'>
      <bus>1</bus>
      <device>4</device>
      <product id='0x5678'>Test Token</product>
      <vendor id='0x1234'>HVConsole Labs</vendor>
    </capability>
  </device>
  <device>
    <name>usb_usb1</name>
    <parent>computer</parent>
    <capability type='usb_device'>
      <bus>1</bus>
      <device>1</device>
      <product id='0x0002'>2.0 root hub</product>
      <vendor id='0x1d6b'>Linux Foundation</vendor>
    </capability>
  </device>
</node>
"""


@pytest.fixture
def conn(tmp_path):
    path = tmp_path / "node.xml"
    path.write_text(NODE)
    connection = libvirt.open(f"test://{path}")
    yield connection
    connection.close()


def test_usb_devices_are_listed_without_the_hubs(conn):
    [token] = nodedev.usb_devices(conn)
    assert token == nodedev.UsbDevice("usb_1_4", 0x1234, 0x5678, "HVConsole Labs",
                                      "Test Token", 1, 4)
    assert token.ids == "1234:5678"
    assert token.label == "HVConsole Labs Test Token [1234:5678] (bus 1, device 4)"


def test_a_device_of_another_kind_is_no_usb_device():
    assert nodedev.parse_usb_device(
        "<device><name>computer</name><capability type='system'/></device>") is None
