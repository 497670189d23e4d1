"""The edits of a Properties session as a change list: what each change says, when it
takes effect on a running VM (now, or after the next shutdown) and whether libvirt is
asked to change the running VM too. The same plans run against libvirtd in
tests/integration/test_properties_live.py and test_properties_offline.py.
"""
from __future__ import annotations

from connectors.libvirt import domxml

from app.properties import timing
from app.properties.changes import Phase, When, needs_define, plan
from app.properties.session import NewVolume
from tests.properties_fixtures import GIB, RICH, session

NOW, LATER = When.NOW, When.AFTER_SHUTDOWN


def phases(change) -> list[str]:
    return [step.phase.name for step in change.steps]


def test_a_session_left_alone_plans_nothing_and_writes_back_what_it_read():
    s = session(running=True)
    assert plan(s) == []
    assert s.edited.to_xml() == s.original.to_xml()


def test_a_shut_off_vm_takes_every_change_at_once_without_live_steps():
    s = session(running=False)
    s.edited.set_vcpus(3)
    s.edited.set_memory(s.edited.memory_kib, 262144)
    changes = plan(s)
    assert [c.summary for c in changes] == ["CPU: 2 → 3 vCPUs",
                                            "Memory: current allocation 384 MiB → 256 MiB"]
    assert all(c.when is NOW and phases(c) == [] for c in changes)
    assert needs_define(changes)


def test_vcpus_apply_now_up_to_the_running_maximum_and_later_beyond_it():
    s = session(running=True)
    s.edited.set_vcpus(4)
    [change] = plan(s)
    assert (change.when, phases(change)) == (NOW, ["LIVE"])
    assert timing.when(s, "vcpus") is NOW
    s.edited.set_vcpus(6, 6)
    changes = {c.text: c for c in plan(s)}
    assert changes["2 → 6 vCPUs"].when is LATER and phases(changes["2 → 6 vCPUs"]) == []
    assert changes["at most 4 → 6 vCPUs"].when is LATER
    assert timing.when(s, "vcpus") is LATER


def test_memory_moves_now_through_the_balloon_only():
    s = session(running=True)
    s.edited.set_memory(s.edited.memory_kib, 262144)
    [change] = plan(s)
    assert change.when is NOW and phases(change) == ["LIVE"]
    assert timing.when(s, "current_memory") is NOW
    s.edited.devices_of(domxml.Memballoon)[0].model = "none"
    s.live.devices_of(domxml.Memballoon)[0].model = "none"
    current = next(c for c in plan(s) if c.text.startswith("current allocation"))
    assert current.when is LATER and phases(current) == []
    assert timing.when(s, "current_memory") is LATER


def test_a_nics_link_changes_now_and_its_model_after_the_shutdown():
    s = session(running=True)
    nic = s.edited.interfaces[0]
    nic.link_up = True
    nic.model = "e1000e"
    changes = plan(s)
    assert [(c.summary, c.when) for c in changes] == [
        ("Network: network interface 52:54:00:aa:bb:01 on network default: link down → up",
         NOW),
        ("Network: network interface 52:54:00:aa:bb:01 on network default: model virtio → "
         "e1000e", LATER)]
    assert phases(changes[0]) == ["LIVE"] and phases(changes[1]) == []


def test_a_new_disk_is_made_first_then_hot_plugged_where_its_bus_allows():
    s = session(running=True)
    s.add_new_disk(NewVolume("hvconsole-test", "rich-2.qcow2", 8 * GIB), "/pool",
                   bus="virtio", cache="none")
    s.add_existing_disk("/pool/spare.qcow2", bus="sata", cache=None, fmt="qcow2")
    virtio, sata = plan(s)
    assert virtio.summary == ("Disks: add disk vdd: a new 8 GiB qcow2 volume rich-2.qcow2 "
                              "in pool hvconsole-test (virtio, cache none)")
    assert (virtio.when, phases(virtio)) == (NOW, ["BEFORE", "LIVE"])
    assert sata.summary == "Disks: add disk sdc: /pool/spare.qcow2 (sata, cache default)"
    assert (sata.when, phases(sata)) == (LATER, [])
    assert timing.disk_add_when(s, "virtio") is NOW
    assert timing.disk_add_when(s, "sata") is LATER


def test_a_removed_disk_takes_its_volume_only_once_the_vm_has_let_go():
    s = session(running=True)
    s.remove_device(s.edited.disk("vdc"), delete_volume="/pool/rich-data.qcow2")
    [change] = plan(s)
    assert change.summary == ("Disks: remove disk vdc and delete its volume "
                              "/pool/rich-data.qcow2")
    assert phases(change) == ["LIVE", "AFTER"]
    # A disk the running VM cannot give up now keeps its volume (the VM still uses it).
    s = session(running=True, xml=RICH.replace("<target dev='sdb' bus='scsi'/>",
                                                "<target dev='sdb' bus='sata'/>"))
    s.remove_device(s.edited.disk("sdb"), delete_volume="/pool/nbd")
    [change] = plan(s)
    assert change.when is LATER and phases(change) == []
    assert "is kept: the running VM uses it" in change.text


def test_grow_is_now_and_shrink_needs_its_confirmation():
    s = session(running=True)
    s.resize("vda", 20 * GIB)
    [grow] = plan(s)
    assert grow.summary == "Disks: grow disk vda from 10 GiB to 20 GiB"
    assert grow.when is NOW and not grow.config and phases(grow) == ["AFTER"]
    s.resize("vda", 5 * GIB)
    [shrink] = plan(s)
    assert shrink.summary == "Disks: shrink disk vda from 10 GiB to 5 GiB"
    s.resize("vda", 10 * GIB)
    assert plan(s) == []


def test_a_disc_change_is_one_change_now_forced_if_the_tray_is_locked():
    s = session(running=True)
    cd = s.edited.disk("sda")
    s.set_media(cd, "/pool/debian.iso")
    [insert] = plan(s)
    assert insert.summary == "CD/DVD: insert /pool/debian.iso into the CD/DVD drive sda"
    assert (insert.when, phases(insert)) == (NOW, ["LIVE"])
    s.set_media(cd, None)
    assert plan(s) == []                     # back to what is in the drive now


def test_what_only_the_definition_holds_waits_for_the_shutdown():
    s = session(running=True)
    s.edited.ensure_cpu().topology = domxml.Topology(2, 2, 1)
    s.edited.set_firmware("efi")
    s.edited.videos[0].set_model("qxl")
    assert [(c.summary, c.when) for c in plan(s)] == [
        ("CPU: topology 2 sockets × 2 cores × 1 thread", LATER),
        ("Boot: firmware UEFI", LATER),
        ("Display: virtio video: model virtio → qxl", LATER)]
    assert timing.when(s, "topology") is LATER and timing.when(s, "firmware") is LATER


def test_title_and_autostart_apply_now_autostart_outside_the_definition():
    s = session(running=True)
    s.edited.title = "Shop"
    s.autostart = True
    title, autostart = plan(s)
    assert (title.summary, title.when, phases(title)) == ("General: title “Shop”", NOW,
                                                          ["LIVE"])
    assert autostart.summary == "General: start with the host on"
    assert not autostart.config and phases(autostart) == ["AFTER"]
    assert needs_define([title]) and not needs_define([autostart])


def test_a_rename_is_done_before_the_define_and_undone_if_that_is_refused():
    s = session(running=False)
    s.edited.name = "rich-2"
    [rename] = plan(s)
    assert rename.summary == "General: rename “rich” to “rich-2”"
    assert [st.phase for st in rename.steps] == [Phase.BEFORE]
    assert rename.steps[0].undo is not None


def test_the_xml_pages_text_is_one_change_and_the_pages_edits_give_way_to_it():
    s = session(running=True)
    s.edited.title = "from a page"
    s.set_xml_text(RICH.replace("<on_crash>destroy", "<on_crash>restart"))
    assert [(c.summary, c.when) for c in plan(s)] == [
        ("XML: the whole definition as edited on the XML page", LATER)]
    s.set_xml_text(s.edited.to_xml())
    assert s.xml_text is None                # the pages' own text is no XML edit


def test_a_change_no_page_names_is_still_shown():
    s = session(running=False)
    s.edited.on_crash = "restart"
    [change] = plan(s)
    assert change.summary == "XML: other changes to the definition"
