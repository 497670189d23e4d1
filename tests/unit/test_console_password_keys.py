"""The vault entry names of console passwords (docs/ARCHITECTURE.md, "Consoles")."""
from app.console_passwords import address_console_key, vm_console_key


def test_console_password_entry_names():
    assert vm_console_key("qemu+ssh://kvm1/system", "abc") == "vnc:qemu+ssh://kvm1/system/abc"
    assert address_console_key("10.0.0.5", 5901) == "vnc:10.0.0.5:5901"
