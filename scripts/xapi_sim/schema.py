"""The XenAPI classes the simulator serves: each field's type and default, after the
public XenAPI reference. State.db keeps every value as a string; the type says how to
read it (int, float, bool, datetime, ref, enum, set, map) and how to put it on the wire
(XML-RPC sends ints as strings, JSON-RPC as numbers). A field a loaded database has and
this table lacks is kept as it came (a string), so a real pool's dump round-trips."""
from __future__ import annotations

NULL_REF = "OpaqueRef:NULL"
EPOCH = "19700101T00:00:00Z"


class DateTime(str):
    """A XenAPI datetime ("20240131T12:00:00Z"): a string that knows it is a date."""


# name:type[=default]; type is one of string int float bool datetime ref enum set map.
# A default that is not given is the type's empty value.
_FIELDS = {
    "session": """uuid:string this_host:ref this_user:ref last_active:datetime pool:bool
        other_config:map is_local_superuser:bool=true subject:ref validation_time:datetime
        auth_user_sid:string auth_user_name:string rbac_permissions:set tasks:set
        parent:ref originator:string""",
    "pool": """uuid:string name_label:string name_description:string master:ref
        default_SR:ref suspend_image_SR:ref crash_dump_SR:ref other_config:map
        ha_enabled:bool allowed_operations:set current_operations:map tags:set
        gui_config:map cpu_info:map""",
    "host": """uuid:string name_label:string name_description:string
        allowed_operations:set current_operations:map API_version_major:int=2
        API_version_minor:int=21 API_version_vendor:string=XenServer
        software_version:map other_config:map enabled:bool=true resident_VMs:set
        PBDs:set PIFs:set host_CPUs:set cpu_info:map hostname:string address:string
        metrics:ref memory_overhead:int tags:set power_on_mode:string
        control_domain:ref uefi_certificates:string""",
    "host_metrics": """uuid:string memory_total:int memory_free:int live:bool=true
        last_updated:datetime other_config:map""",
    "VM": """uuid:string allowed_operations:set current_operations:map
        name_label:string name_description:string power_state:enum=Halted
        user_version:int=1 is_a_template:bool is_default_template:bool
        suspend_VDI:ref resident_on:ref scheduled_to_be_resident_on:ref affinity:ref
        memory_overhead:int memory_target:int memory_static_max:int
        memory_dynamic_max:int memory_dynamic_min:int memory_static_min:int
        VCPUs_params:map VCPUs_max:int=1 VCPUs_at_startup:int=1
        actions_after_shutdown:enum=destroy actions_after_reboot:enum=restart
        actions_after_crash:enum=restart consoles:set VIFs:set VBDs:set crash_dumps:set
        VTPMs:set PV_bootloader:string PV_kernel:string PV_ramdisk:string PV_args:string
        PV_bootloader_args:string PV_legacy_args:string HVM_boot_policy:string
        HVM_boot_params:map HVM_shadow_multiplier:float=1.0 platform:map
        PCI_bus:string other_config:map domid:int=-1 domarch:string
        last_boot_CPU_flags:map is_control_domain:bool metrics:ref guest_metrics:ref
        last_booted_record:string recommendations:string xenstore_data:map
        ha_always_run:bool ha_restart_priority:string is_a_snapshot:bool
        snapshot_of:ref snapshots:set snapshot_time:datetime
        transportable_snapshot_id:string blobs:map tags:set blocked_operations:map
        snapshot_info:map snapshot_metadata:string parent:ref children:set
        bios_strings:map protection_policy:ref is_snapshot_from_vmpp:bool
        appliance:ref start_delay:int shutdown_delay:int order:int VGPUs:set
        attached_PCIs:set suspend_SR:ref version:int generation_id:string
        hardware_platform_version:int has_vendor_device:bool requires_reboot:bool
        reference_label:string domain_type:enum=hvm""",
    "VM_metrics": """uuid:string memory_actual:int VCPUs_number:int VCPUs_utilisation:map
        VCPUs_CPU:map VCPUs_params:map VCPUs_flags:map state:set start_time:datetime
        install_time:datetime last_updated:datetime other_config:map hvm:bool
        nested_virt:bool nomigrate:bool current_domain_type:enum=unspecified""",
    "VM_guest_metrics": """uuid:string os_version:map PV_drivers_version:map
        PV_drivers_up_to_date:bool memory:map disks:map networks:map other:map
        last_updated:datetime other_config:map live:bool""",
    "console": "uuid:string protocol:enum=rfb location:string VM:ref other_config:map",
    "SR": """uuid:string name_label:string name_description:string allowed_operations:set
        current_operations:map VDIs:set PBDs:set virtual_allocation:int
        physical_utilisation:int physical_size:int type:string content_type:string
        shared:bool other_config:map tags:set sm_config:map blobs:map
        local_cache_enabled:bool introduced_by:ref clustered:bool is_tools_sr:bool""",
    "PBD": """uuid:string host:ref SR:ref device_config:map currently_attached:bool
        other_config:map""",
    "VDI": """uuid:string name_label:string name_description:string allowed_operations:set
        current_operations:map SR:ref VBDs:set crash_dumps:set virtual_size:int
        physical_utilisation:int type:enum=user sharable:bool read_only:bool
        other_config:map storage_lock:bool location:string managed:bool=true
        missing:bool parent:ref xenstore_data:map sm_config:map is_a_snapshot:bool
        snapshot_of:ref snapshots:set snapshot_time:datetime tags:set
        allow_caching:bool on_boot:enum=persist metadata_of_pool:ref
        metadata_latest:bool is_tools_iso:bool cbt_enabled:bool""",
    "VBD": """uuid:string allowed_operations:set current_operations:map VM:ref VDI:ref
        device:string userdevice:string bootable:bool mode:enum=RW type:enum=Disk
        unpluggable:bool=true storage_lock:bool empty:bool other_config:map
        currently_attached:bool status_code:int status_detail:string
        runtime_properties:map qos_algorithm_type:string qos_algorithm_params:map
        qos_supported_algorithms:set metrics:ref""",
    "network": """uuid:string name_label:string name_description:string
        allowed_operations:set current_operations:map VIFs:set PIFs:set MTU:int=1500
        other_config:map bridge:string managed:bool=true blobs:map tags:set
        default_locking_mode:enum=unlocked assigned_ips:map purpose:set""",
    "VIF": """uuid:string allowed_operations:set current_operations:map device:string
        network:ref VM:ref MAC:string MTU:int=1500 other_config:map
        currently_attached:bool status_code:int status_detail:string
        runtime_properties:map qos_algorithm_type:string qos_algorithm_params:map
        qos_supported_algorithms:set metrics:ref MAC_autogenerated:bool
        locking_mode:enum=network_default ipv4_allowed:set ipv6_allowed:set""",
    "PIF": """uuid:string device:string network:ref host:ref MAC:string MTU:int=1500
        VLAN:int=-1 metrics:ref physical:bool=true currently_attached:bool=true
        ip_configuration_mode:enum=DHCP IP:string netmask:string gateway:string
        DNS:string management:bool other_config:map""",
    "task": """uuid:string name_label:string name_description:string allowed_operations:set
        current_operations:map created:datetime finished:datetime status:enum=pending
        resident_on:ref progress:float type:string result:string error_info:set
        other_config:map subtask_of:ref subtasks:set backtrace:string""",
    "message": """uuid:string name:string priority:int cls:enum=VM obj_uuid:string
        timestamp:datetime body:string""",
}

TYPES: dict[str, dict[str, str]] = {}
DEFAULTS: dict[str, dict[str, object]] = {}
_EMPTY = {"string": "", "int": 0, "float": 0.0, "bool": False, "ref": NULL_REF,
          "enum": "", "set": (), "map": ()}


def _default(kind: str, text: str | None) -> object:
    if kind == "datetime":
        return DateTime(text or EPOCH)
    if text is None:
        empty = _EMPTY[kind]
        return [] if empty == () and kind == "set" else {} if empty == () else empty
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return text == "true"
    return text


for _cls, _spec in _FIELDS.items():
    TYPES[_cls] = {}
    DEFAULTS[_cls] = {}
    for _item in _spec.split():
        _name, _, _rest = _item.partition(":")
        _kind, _, _text = _rest.partition("=")
        TYPES[_cls][_name] = _kind
        DEFAULTS[_cls][_name] = _default(_kind, _text if "=" in _rest else None)

# Case as the API spells the classes; event.from and the errors accept any case.
CLASSES = {name.lower(): name for name in TYPES}


def canonical_class(name: str) -> str | None:
    return CLASSES.get(name.lower())


def new_record(cls: str, /, **fields: object) -> dict[str, object]:
    """A record with every field of the class at its default, then ``fields``."""
    record: dict[str, object] = {}
    for name, value in DEFAULTS[cls].items():
        record[name] = (list(value) if isinstance(value, list)
                        else dict(value) if isinstance(value, dict) else value)
    record.update(fields)
    return record
