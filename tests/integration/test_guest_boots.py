"""The tiny test guest does what the console and lifecycle tests count on.

It boots to a shell under the real libvirtd, honours ACPI shutdown, shows text on its VGA
screen, and runs what is typed on its keyboard. If one of these fails, the tests built on
the guest would fail for the wrong reason; these say which part is broken.
"""
from __future__ import annotations

import subprocess
import time

import pytest

from tests.integration.guest import pause, serial_size, wait_for_serial

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def virsh(uri: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["virsh", "-c", uri, *args], check=True, capture_output=True,
                          timeout=60, **kwargs)


def test_guest_boots_to_its_shell(booted_guest, test_guest_files):
    log = booted_guest.serial_log.read_text(errors="replace")
    assert f"HVCONSOLE-GUEST-READY kernel={test_guest_files.kernel_version}" in log
    assert booted_guest.domain.isActive()


def test_virsh_shutdown_powers_the_guest_off(booted_guest, libvirt_uri):
    import libvirt

    virsh(libvirt_uri, "shutdown", booted_guest.name)
    deadline = time.monotonic() + 20
    while booted_guest.state() != libvirt.VIR_DOMAIN_SHUTOFF:
        assert time.monotonic() < deadline, (
            f"still {booted_guest.state()} 20 s after virsh shutdown; serial log:\n"
            + booted_guest.serial_log.read_text(errors="replace")[-1000:])
        pause(0.2)
    assert "HVCONSOLE-GUEST-POWER-BUTTON" in booted_guest.serial_log.read_text(errors="replace")


def test_virsh_screenshot_shows_text(booted_guest, libvirt_uri, tmp_path):
    from PySide6.QtGui import QImage

    shot = tmp_path / "screen"
    virsh(libvirt_uri, "screenshot", booted_guest.name, str(shot))
    image = QImage(str(shot))  # QEMU sends PNG or PPM; Qt reads both from the header
    assert not image.isNull(), f"unreadable screenshot ({shot.stat().st_size} bytes)"
    assert image.width() >= 640 and image.height() >= 400
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    background = image.pixel(image.width() - 1, image.height() - 1)
    lit = sum(1 for y in range(0, image.height(), 2) for x in range(0, image.width(), 2)
              if image.pixel(x, y) != background)
    share = lit / ((image.width() // 2) * (image.height() // 2))
    # Text on a dark console lights a few percent of the pixels; a blank or garbage
    # screen lights none or nearly all of them.
    assert 0.002 < share < 0.5, f"{share:.2%} of pixels differ from the background"


def test_typed_command_runs_in_the_console_shell(booted_guest, libvirt_uri):
    # The command's output goes to the serial port, where the test can read it: the
    # guest's hostname is printed nowhere else, so seeing it proves the shell ran it.
    keys = [["KEY_H"], ["KEY_O"], ["KEY_S"], ["KEY_T"], ["KEY_N"], ["KEY_A"], ["KEY_M"],
            ["KEY_E"], ["KEY_SPACE"], ["KEY_LEFTSHIFT", "KEY_DOT"], ["KEY_SLASH"], ["KEY_D"],
            ["KEY_E"], ["KEY_V"], ["KEY_SLASH"], ["KEY_T"], ["KEY_T"], ["KEY_Y"],
            ["KEY_LEFTSHIFT", "KEY_S"], ["KEY_0"], ["KEY_ENTER"]]
    before = serial_size(booted_guest.serial_log)
    for chord in keys:
        # One chord per call: virsh presses all keys of one call together.
        virsh(libvirt_uri, "send-key", booted_guest.name, *chord)
    wait_for_serial(booted_guest.serial_log, "hvconsole-guest", timeout=30, after=before)


def test_guest_with_a_volume_from_the_test_pool_boots(guest_factory):
    guest = guest_factory("disk", start=True, with_disk=True)
    guest.wait_ready()
    assert guest.volume.path() in guest.domain.XMLDesc(0)
    assert guest.volume.storagePoolLookupByVolume().name() == "hvconsole-test"
