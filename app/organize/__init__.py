"""Organising VMs: custom field definitions (fields.py), what the Organize editor and
bulk actions change (the actions live in app/actions/organize.py, the command in
app/commands/organize.py), and the known tags and folders the editor completes from
(known.py). The values themselves live in each VM's domain metadata
(connectors/libvirt/domxml/organize.py)."""
