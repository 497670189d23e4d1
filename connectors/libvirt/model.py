"""Plain snapshots of what a libvirt host holds, and the events a host connection emits.

Everything here is immutable and free of libvirt and Qt objects, so that app/ can keep
these records in its models and tests can build them by hand.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class VMState(enum.Enum):
    """A VM's state as a user thinks of it (libvirt's virDomainState, plus managed save)."""

    RUNNING = "running"
    PAUSED = "paused"
    SHUTTING_DOWN = "shutting down"
    SHUTOFF = "shut off"
    SUSPENDED = "suspended"  # shut off with a managed-save image: "Resume" restores it
    CRASHED = "crashed"
    PMSUSPENDED = "suspended by guest"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def is_active(self) -> bool:
        """True while the VM has a running QEMU/Xen domain behind it."""
        return self in (VMState.RUNNING, VMState.PAUSED, VMState.SHUTTING_DOWN,
                        VMState.PMSUSPENDED, VMState.CRASHED)


class ConnState(enum.Enum):
    DISCONNECTED = "disconnected"  # by the user, or a connect attempt failed
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # lost; retrying with backoff

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ObjectKind(enum.Enum):
    VM = "vm"
    NETWORK = "network"
    POOL = "pool"
    SERVER = "server"      # a member host of a XenServer / XCP-ng pool (ServerInfo)


class VMAction(enum.Enum):
    """Lifecycle operations that map onto one libvirt call each."""

    START = "start"            # also restores a managed-save image
    SHUTDOWN = "shutdown"      # ACPI power button
    REBOOT = "reboot"          # ACPI reboot
    FORCE_OFF = "force_off"    # destroy
    RESET = "reset"            # force reboot
    PAUSE = "pause"
    RESUME = "resume"
    MANAGED_SAVE = "managed_save"


@dataclass(frozen=True, slots=True)
class DiskInfo:
    target: str            # "vda"
    device: str            # "disk", "cdrom", "floppy", "lun"
    bus: str               # "virtio", "sata", "xen", ...
    source: str | None     # file path, block device, "pool/volume", or None (empty drive)
    driver_type: str | None = None  # "qcow2", "raw"
    readonly: bool = False


@dataclass(frozen=True, slots=True)
class NicInfo:
    mac: str
    kind: str              # "network", "bridge", "user", "direct", ...
    source: str | None     # network or bridge name
    model: str | None      # "virtio", "e1000", ...


@dataclass(frozen=True, slots=True)
class GraphicsInfo:
    type: str                   # "vnc", "spice", "sdl", ...
    listen: str | None = None   # address, or None
    port: int | None = None     # None or -1 until the VM runs with autoport
    autoport: bool = False
    socket: str | None = None   # UNIX socket path when listen type is socket
    has_password: bool = False

    @property
    def summary(self) -> str:
        if self.socket:
            where = f"socket {self.socket}"
        elif self.port and self.port > 0:
            where = f"{self.listen or '127.0.0.1'}:{self.port}"
        else:
            where = "port assigned at start" if self.autoport else "no port"
        return f"{self.type.upper()} ({where})"


@dataclass(frozen=True, slots=True)
class VMInfo:
    key: str                    # the domain's UUID string
    name: str
    state: VMState
    state_reason: str           # "booted", "destroyed", "user", ... in plain words
    domain_type: str            # libvirt <domain type=...>: "kvm", "qemu", "xen", "test"
    os_type: str                # "hvm", "xen" (PV), "linux", "exe"
    arch: str
    virtualization: str         # human label: "Hardware-assisted (KVM + QEMU)", ...
    vcpus: int
    max_vcpus: int
    memory_kib: int             # current allocation
    max_memory_kib: int
    persistent: bool
    autostart: bool
    managed_save: bool
    dom_id: int | None = None   # None while shut off
    title: str = ""
    description: str = ""
    is_control_domain: bool = False   # Xen Dom0
    disks: tuple[DiskInfo, ...] = ()
    nics: tuple[NicInfo, ...] = ()
    graphics: tuple[GraphicsInfo, ...] = ()
    # HVConsole's own organisation of the VM, kept in the domain's <metadata> under
    # domxml.organize.ORGANIZE_NS: sorted unique tags; "" or a path like "/prod/web";
    # (name, value) pairs sorted by name.
    tags: tuple[str, ...] = ()
    folder: str = ""
    custom_fields: tuple[tuple[str, str], ...] = ()
    # XenAPI pools only: the member (ServerInfo.key) the VM is resident on, "" when none,
    # and the operations XAPI allows now (None: the hypervisor does not say; libvirt).
    server_key: str = ""
    allowed_operations: frozenset[str] | None = None
    snapshots: int = 0
    # The guest OS as libosinfo names it ("http://debian.org/debian/12"), from the
    # domain's libosinfo metadata (virt-install, virt-manager and New VM write it); "".
    os_id: str = ""


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """One member host of a XenServer / XCP-ng pool: a row between the pool and its
    resident VMs (the connection itself stands for the pool)."""

    key: str                    # the host's UUID
    name: str
    address: str
    enabled: bool               # False: disabled (maintenance mode)
    live: bool                  # the pool master hears from it
    is_master: bool
    cpus: int = 0
    cpu_model: str = ""
    memory_kib: int = 0
    free_memory_kib: int = 0
    version: str = ""           # "XCP-ng 8.2.1"
    allowed_operations: frozenset[str] = frozenset()
    control_domain: VMInfo | None = None    # its dom0: the host itself, not a VM row

    @property
    def state_label(self) -> str:
        if not self.live:
            return "Unreachable"
        if not self.enabled:
            return "In maintenance"
        return "Pool master" if self.is_master else "Connected"


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    key: str                    # UUID
    name: str
    active: bool
    persistent: bool
    autostart: bool
    bridge: str | None = None
    forward: str | None = None  # "nat", "route", "bridge", None for isolated

    @property
    def state_label(self) -> str:
        return "Active" if self.active else "Inactive"


@dataclass(frozen=True, slots=True)
class PoolInfo:
    key: str                    # UUID
    name: str
    state: str                  # "running", "inactive", "building", "degraded", "inaccessible"
    pool_type: str              # "dir", "logical", "netfs", ...
    persistent: bool
    autostart: bool
    capacity: int = 0           # bytes
    allocation: int = 0
    available: int = 0
    path: str | None = None

    @property
    def active(self) -> bool:
        return self.state == "running"

    @property
    def state_label(self) -> str:
        return "Active" if self.active else self.state.capitalize()


@dataclass(frozen=True, slots=True)
class HostInfo:
    uri: str
    hostname: str
    driver: str                 # libvirt's getType(): "QEMU", "Xen", "TEST"
    hypervisor_label: str       # "KVM (QEMU 7.2.0)", "Xen 4.17 (libxl)", "Test driver"
    hypervisor_version: str     # "7.2.0"
    libvirt_version: str        # the daemon's libvirt version, "9.0.0"
    arch: str
    cpu_model: str
    cpus: int
    sockets: int
    cores: int
    threads: int
    mhz: int
    memory_kib: int
    free_memory_kib: int | None = None
    is_demo: bool = False       # the embedded test-driver lab


InventoryObject = VMInfo | NetworkInfo | PoolInfo | ServerInfo


@dataclass(frozen=True, slots=True)
class Change:
    """One object added/updated (obj set) or gone (obj None): XenCenter's ObjectChange."""

    kind: ObjectKind
    key: str
    obj: InventoryObject | None


# ---- what a host connection tells its listener (always on the asyncio loop thread) ----

@dataclass(frozen=True, slots=True)
class HostStateChanged:
    state: ConnState
    reason: str = ""            # why it is disconnected/reconnecting, in plain words
    host: HostInfo | None = None


@dataclass(frozen=True, slots=True)
class InventoryChanged:
    changes: tuple[Change, ...]
    full: bool = False          # True: a complete snapshot after (re)connect; replaces all


@dataclass(frozen=True, slots=True)
class HypervisorEvent:
    """Something the hypervisor reported, worded for the Events log."""

    kind: ObjectKind
    key: str
    name: str
    message: str                # "Started (booted)", "Network default stopped", ...
    severity: str = "info"      # "info", "warning", "error"


@dataclass(frozen=True, slots=True)
class ServerAlert:
    """An alert the server itself keeps until someone dismisses it (a XAPI message):
    unlike a HypervisorEvent it has a life of its own, so it is listed, not only logged."""

    key: str                    # the server's id for it (a XAPI message's UUID)
    name: str                   # the server's code: "ALARM", "HA_HOST_FAILED", "VM_CRASHED"
    title: str                  # that code in words ("VM crashed")
    body: str
    priority: int               # XAPI's: 1 data-loss imminent … 5 informational
    kind: ObjectKind | None     # the object it concerns (None: the pool itself)
    obj_key: str
    obj_name: str
    wall: float                 # when the server raised it (epoch seconds)


@dataclass(frozen=True, slots=True)
class ServerAlertsChanged:
    """Alerts the server raised or forgot; ``full``: ``added`` is all there are now."""

    added: tuple[ServerAlert, ...]
    removed: tuple[str, ...] = ()
    full: bool = False


HostEvent = HostStateChanged | InventoryChanged | HypervisorEvent | ServerAlertsChanged


# ---- credentials libvirt asks for through openAuth ----

class CredentialType(enum.Enum):
    USERNAME = "username"
    AUTHNAME = "authname"
    PASSPHRASE = "passphrase"
    ECHOPROMPT = "echoprompt"
    NOECHOPROMPT = "noechoprompt"
    REALM = "realm"
    EXTERNAL = "external"

    @property
    def secret(self) -> bool:
        return self in (CredentialType.PASSPHRASE, CredentialType.NOECHOPROMPT)


@dataclass(frozen=True, slots=True)
class CredentialRequest:
    type: CredentialType
    prompt: str
    challenge: str = ""
    default: str = ""


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    keepalive_interval_s: int = 3       # libvirt keepalive: dead after interval*(count+1)
    keepalive_count: int = 2
    call_timeout_s: float = 30.0        # a single libvirt call; the UI never waits on it
    reconnect_initial_s: float = 1.0
    reconnect_max_s: float = 30.0
    workers: int = 4                    # threads that run blocking libvirt calls
    # A driver without lifecycle events is looked at this often instead (polling.py).
    poll_interval_s: float = 5.0


class ConnectorError(Exception):
    """A failure worded for a user: what went wrong, in libvirt's words where it has them."""


class ConnectError(ConnectorError):
    pass


class ActionError(ConnectorError):
    pass
