"""The machine around the devices: ``<os>`` (firmware, boot), ``<cpu>``, ``<features>``
and ``<clock>``."""
from __future__ import annotations

from dataclasses import dataclass

from connectors.libvirt.domxml import xmltree
from connectors.libvirt.domxml.nodes import Attr, IntAttr, Node, Switch, Text, attrs

FIRMWARE_FEATURE_SECURE_BOOT = "secure-boot"
FIRMWARE_FEATURE_ENROLLED_KEYS = "enrolled-keys"


class Os(Node):
    """``<os>``. Boot order is either here (``boot_devices``: hd, cdrom, network, fd) or
    on the devices (``Domain.set_boot_order``); libvirt refuses both at once."""

    __slots__ = ()
    ORDER = ("type", "firmware", "init", "initarg", "initenv", "initdir", "inituser",
             "initgroup", "loader", "nvram", "kernel", "initrd", "cmdline", "shim", "dtb",
             "acpi", "boot", "bootmenu", "smbios", "bios")
    type = Text("type")                      # hvm, xen (PV), xenpvh, linux, exe
    arch = Attr("arch", "type")
    machine = Attr("machine", "type")
    firmware_attr = Attr("firmware")         # efi, bios: libvirt picks the files
    loader = Text("loader")
    loader_type = Attr("type", "loader")     # rom, pflash
    loader_readonly = Switch("readonly", "loader")
    loader_secure = Switch("secure", "loader")
    nvram = Text("nvram")
    nvram_template = Attr("template", "nvram")
    kernel = Text("kernel")
    initrd = Text("initrd")
    cmdline = Text("cmdline")
    dtb = Text("dtb")
    bootmenu = Switch("enable", "bootmenu")
    bootmenu_timeout = IntAttr("timeout", "bootmenu")

    @property
    def boot_devices(self) -> list[str]:
        return [b.get("dev", "") for b in self.element.findall("boot")]

    @boot_devices.setter
    def boot_devices(self, devices: list[str]) -> None:
        self.drop("boot")
        for dev in devices:
            xmltree.insert_child(self.element, xmltree.new("boot", {"dev": dev}), self.ORDER)

    @property
    def firmware(self) -> str | None:
        """"efi" or "bios" when the XML says which (the attribute, or the loader it
        names); None: the driver's default (BIOS on x86)."""
        stated = self.firmware_attr
        if stated:
            return stated
        loader = self.loader
        if self.loader_type == "pflash" or (loader and any(
                word in loader.lower() for word in ("ovmf", "edk2", "aavmf", "uefi"))):
            return "efi"
        if self.loader_type == "rom" or (loader and any(
                word in loader.lower() for word in ("seabios", "bios", "hvmloader"))):
            return "bios"
        return None

    @property
    def direct_kernel_boot(self) -> bool:
        return bool(self.kernel)

    @property
    def firmware_features(self) -> dict[str, bool]:
        """``<firmware><feature enabled= name=/>``: what autoselection must (not) offer."""
        return {f.get("name", ""): f.get("enabled") == "yes"
                for f in self.element.findall("firmware/feature")}

    @property
    def secure_boot(self) -> bool | None:
        features = self.firmware_features
        if FIRMWARE_FEATURE_SECURE_BOOT in features:
            return features[FIRMWARE_FEATURE_SECURE_BOOT]
        return self.loader_secure

    def set_firmware(self, kind: str | None, *, secure_boot: bool | None = None,
                     loader: str | None = None, nvram_template: str | None = None) -> None:
        """BIOS ("bios", or None: the driver's default) or UEFI ("efi"). Without a
        ``loader`` libvirt picks the firmware files (autoselection) that offer
        ``secure_boot`` when it is said; the old loader and NVRAM go, since they belong
        to the old firmware. Secure Boot also needs SMM: Domain.set_firmware sees to it."""
        if kind not in ("efi", "bios", None):
            raise ValueError(f"firmware must be 'efi' or 'bios', not {kind!r}")
        self.drop("loader")
        self.drop("nvram")
        self.drop("firmware")
        self.firmware_attr = None
        if kind != "efi":
            if loader is not None:
                self.loader = loader
                self.loader_type = "rom"
            return
        if loader is None:
            self.firmware_attr = "efi"
            if secure_boot is not None:
                holder = self.ensure("firmware")
                holder.append(xmltree.new("feature", attrs(
                    enabled=secure_boot, name=FIRMWARE_FEATURE_SECURE_BOOT)))
                holder.append(xmltree.new("feature", attrs(
                    enabled=secure_boot, name=FIRMWARE_FEATURE_ENROLLED_KEYS)))
        else:
            self.loader = loader
            self.loader_readonly = True
            self.loader_type = "pflash"
            self.loader_secure = secure_boot
        if nvram_template is not None:
            self.ensure("nvram").set("template", nvram_template)


@dataclass(frozen=True)
class Topology:
    sockets: int = 1
    cores: int = 1
    threads: int = 1
    dies: int = 1

    @property
    def vcpus(self) -> int:
        return self.sockets * self.dies * self.cores * self.threads


CPU_MODES = ("host-passthrough", "host-model", "maximum", "custom")


class Cpu(Node):
    __slots__ = ()
    ORDER = ("model", "vendor", "topology", "cache", "maxphysaddr", "feature", "numa")
    mode = Attr("mode")                      # custom when absent
    match = Attr("match")
    check = Attr("check")
    migratable = Switch("migratable", words=("on", "off"))
    model = Text("model")
    model_fallback = Attr("fallback", "model")

    @property
    def topology(self) -> Topology | None:
        found = self.element.find("topology")
        if found is None:
            return None
        return Topology(*(xmltree.to_int(found.get(k)) or 1
                          for k in ("sockets", "cores", "threads", "dies")))

    @topology.setter
    def topology(self, value: Topology | None) -> None:
        if value is None:
            self.drop("topology")
            return
        found = self.ensure("topology")
        found.attrib.clear()
        found.attrib.update(attrs(sockets=value.sockets,
                                  dies=value.dies if value.dies != 1 else None,
                                  cores=value.cores, threads=value.threads))

    @property
    def features(self) -> dict[str, str]:
        """CPU feature name -> policy (require, disable, force, optional, forbid)."""
        return {f.get("name", ""): f.get("policy", "require")
                for f in self.element.findall("feature")}

    def set_feature(self, name: str, policy: str | None) -> None:
        for found in self.element.findall("feature"):
            if found.get("name") == name:
                if policy is None:
                    xmltree.remove_child(self.element, found)
                else:
                    found.set("policy", policy)
                return
        if policy is not None:
            xmltree.insert_child(self.element,
                                 xmltree.new("feature", attrs(policy=policy, name=name)),
                                 self.ORDER)

    def set_mode(self, mode: str, model: str | None = None) -> None:
        """host-passthrough, host-model, maximum, or custom with a named ``model``. The
        host modes take no model of their own: the old one goes."""
        if mode not in CPU_MODES:
            raise ValueError(f"CPU mode must be one of {', '.join(CPU_MODES)}, not {mode!r}")
        if mode == "custom" and not model:
            raise ValueError("a custom CPU needs a model name")
        self.mode = mode
        if mode == "custom":
            self.match = self.match or "exact"
            self.model = model
        else:
            self.match = None
            self.drop("model")
            self.drop("vendor")


class Features(Node):
    """``<features>``: flags such as acpi, apic, pae, smm, hyperv. Those with settings of
    their own are kept as they are; ``enable`` adds a plain flag."""

    __slots__ = ()

    @property
    def names(self) -> list[str]:
        return [str(f.tag) for f in self.element if isinstance(f.tag, str)]

    def has(self, name: str) -> bool:
        found = self.element.find(name)
        return found is not None and found.get("state", "on") != "off"

    def enable(self, name: str, **values: str) -> None:
        found = self.element.find(name)
        if found is None:
            found = xmltree.insert_child(self.element, xmltree.new(name))
        if found.get("state") == "off":
            found.set("state", "on")
        for key, value in values.items():
            found.set(key, value)

    def disable(self, name: str) -> None:
        self.drop(name)


class Clock(Node):
    __slots__ = ()
    offset = Attr("offset")                  # utc, localtime, timezone, variable

    @property
    def timers(self) -> dict[str, dict[str, str]]:
        return {t.get("name", ""): dict(t.attrib) for t in self.element.findall("timer")}

    def set_timer(self, name: str, **values: str | None) -> None:
        """Set a timer's attributes (None removes one); a timer left with only its name
        goes."""
        found = next((t for t in self.element.findall("timer") if t.get("name") == name),
                     None)
        if found is None:
            found = xmltree.insert_child(self.element, xmltree.new("timer", {"name": name}))
        for key, value in values.items():
            if value is None:
                found.attrib.pop(key, None)
            else:
                found.set(key, value)
        if list(found.attrib) == ["name"] and not len(found):
            xmltree.remove_child(self.element, found)
