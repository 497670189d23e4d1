"""The 10,000-VM test inventory with its organisation: libvirt test-driver files whose
VMs carry tags, a folder and custom fields in HVConsole's metadata entry, in a mix of
states, spread over several hosts. Deterministic (VM n always gets the same tags), so a
benchmark and a test can state what a query must find.

Used by benchmarks/search_query.py and tests/widgets/test_search_scale.py; the same
shape as benchmarks/inventory_scale.py's hosts (each VM a disk and a NIC) plus metadata.
"""
from __future__ import annotations

import uuid
from pathlib import Path

from connectors.libvirt.domxml.organize import ORGANIZE_NS

HEADER = """<?xml version="1.0"?>
<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>16</cores><threads>2</threads>
    <active>32</active><mhz>3000</mhz><model>x86_64</model></cpu>
  <memory>268435456</memory>
"""
DOMAIN = """  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>{name}</name><uuid>{uuid}</uuid>
    <metadata><hvconsole:organize xmlns:hvconsole='{ns}'>{organize}</hvconsole:organize></metadata>
    <memory unit='MiB'>{mem}</memory><currentMemory unit='MiB'>{mem}</currentMemory>
    <vcpu>{vcpus}</vcpu><os><type arch='x86_64'>hvm</type></os>
    <devices>
      <disk type='file' device='disk'><source file='/var/lib/libvirt/images/{name}.qcow2'/>
        <target dev='vda' bus='virtio'/></disk>
      <interface type='network'><source network='default'/></interface>
    </devices>
    <test:runstate>{runstate}</test:runstate>
  </domain>
"""
FOOTER = """  <network><name>default</name><bridge name='virbr0'/>
    <forward/><ip address='192.168.122.1' netmask='255.255.255.0'/></network>
</node>
"""
ROLES = ("web", "db", "cache", "batch", "mail")
ENVS = ("prod", "staging", "dev")
OWNERS = ("alice", "bob", "carol", "dave")
RUNSTATES = (1, 1, 1, 5, 3)     # running 3 in 5, shut off, paused


def organize_of(n: int) -> tuple[tuple[str, ...], str, tuple[tuple[str, str], ...]]:
    """VM n's tags (its role, its environment, every 7th "backup"), folder and fields."""
    role, env = ROLES[n % len(ROLES)], ENVS[(n // len(ROLES)) % len(ENVS)]
    tags = (role, env) + (("backup",) if n % 7 == 0 else ())
    fields = (("owner", OWNERS[n % len(OWNERS)]), ("cost", str(10 + n % 90)))
    return tags, f"/{env}/{role}", fields


def runstate_of(n: int) -> int:
    return RUNSTATES[(n // 3) % len(RUNSTATES)]


def write_hosts(directory: Path, vms: int, hosts: int) -> list[str]:
    """``hosts`` test-driver files sharing ``vms`` VMs out; their test:// URIs."""
    uris = []
    per_host = [vms // hosts + (1 if h < vms % hosts else 0) for h in range(hosts)]
    n = 0
    for h, count in enumerate(per_host):
        path = directory / f"host-{h:02d}.xml"
        parts = [HEADER]
        for _ in range(count):
            tags, folder, fields = organize_of(n)
            organize = f"<hvconsole:folder>{folder}</hvconsole:folder>" + "".join(
                f"<hvconsole:tag>{t}</hvconsole:tag>" for t in tags) + "".join(
                f"<hvconsole:field name='{k}'>{v}</hvconsole:field>" for k, v in fields)
            parts.append(DOMAIN.format(name=f"vm-{n:05d}", uuid=uuid.UUID(int=n + 1),
                                       ns=ORGANIZE_NS, organize=organize,
                                       mem=512 << (n % 4), vcpus=1 + n % 8,
                                       runstate=runstate_of(n)))
            n += 1
        parts.append(FOOTER)
        path.write_text("".join(parts))
        uris.append(f"test://{path}")
    return uris
