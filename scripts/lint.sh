#!/bin/bash
# HVConsole's static checks: ruff (style and likely bugs) and mypy (types), with the
# project's .venv (scripts/setup.sh installs both: the `test` extra of pyproject.toml).
#
# What is checked is the two lists below; the rules are in pyproject.toml ([tool.ruff],
# [tool.mypy]: connectors/ strict, anything else mypy reaches "checked, not strict").
# To take in more code, add its folders or files to a list. Exits non-zero when either
# tool finds something; arguments, if any, replace both lists (`bash scripts/lint.sh
# connectors/libvirt`).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# Type-checked: mypy follows the imports of these into the rest of the project.
MYPY_PATHS=(
    connectors
    app
    widgets
    packaging/make_metainfo.py
    packaging/make_manpage.py
    scripts/xapi_sim
)
# Linted: the code above and its tests.
RUFF_PATHS=(
    connectors
    app
    widgets
    tests/unit/test_connector_*.py
    tests/unit/test_console_address.py
    tests/unit/test_console_keymap.py
    tests/unit/test_console_tunnel.py
    tests/unit/test_inventory_read.py
    tests/unit/test_inventory_diff.py
    tests/unit/test_app_inventory.py
    tests/unit/test_gc_policy.py
    tests/unit/test_remote_hostkeys.py
    tests/unit/test_rfb_*.py
    tests/unit/rfb_helpers.py
    tests/unit/test_spice_*.py
    tests/unit/spice_helpers.py
    tests/unit/spice_display_helpers.py
    tests/unit/test_sampling_schedule.py
    tests/unit/test_stats_sampler.py
    # Statistics tick
    tests/unit/test_stats_keys.py
    tests/unit/test_perf_rates_reference.py
    benchmarks/stats_tick.py
    tests/integration/test_connector_*.py
    tests/integration/test_host_outage.py
    # Reliability: bad networks and long runs
    tests/integration/test_bad_networks.py
    tests/integration/bad_link.py
    tests/integration/delay_line.py
    benchmarks/bad_networks.py
    benchmarks/soak.py
    benchmarks/window_harness.py
    tests/integration/test_stats_qemu.py
    tests/integration/test_capabilities.py
    tests/unit/test_domain_xml*.py
    tests/integration/test_domain_xml_libvirtd.py
    tests/integration/test_storage_*.py
    tests/integration/test_networks*.py
    tests/unit/test_storage_*.py
    tests/unit/test_network_*.py
    # Properties and Snapshots
    app/properties
    app/snapshots.py
    app/commands/properties.py
    widgets/dialogs/properties
    widgets/dialogs/snapshot_dialogs.py
    widgets/tabs/snapshots.py
    tests/properties_fixtures.py
    tests/unit/test_properties_plan.py
    tests/unit/test_commands_properties.py
    app/actions/snapshots.py
    tests/widgets/test_properties_pages.py
    tests/widgets/test_snapshots_tab.py
    tests/integration/properties_helpers.py
    tests/integration/guest_reports.py
    tests/integration/test_properties_live.py
    tests/integration/test_properties_offline.py
    tests/integration/test_snapshots.py
    tests/integration/test_volume_transfer.py
    tests/integration/test_new_vm_*.py
    tests/integration/test_clone.py
    tests/integration/new_vm_driver.py
    tests/integration/serial_console.py
    tests/widgets/test_new_vm_wizard.py
    tests/widgets/new_vm_helpers.py
    tests/widgets/test_clone_dialog.py
    tests/unit/test_new_vm_definitions.py
    tests/unit/test_migration_*.py
    tests/integration/test_migrat*.py
    tests/integration/test_maintenance.py
    tests/integration/test_peer_host.py
    tests/integration/migration_fixtures.py
    tests/integration/peer_host.py
    tests/widgets/test_tasks_tab.py
    # Packages: the Debian package's generators and the tests of what it installs
    packaging/make_metainfo.py
    packaging/make_manpage.py
    tests/unit/test_packaging_files.py
    tests/integration/test_deb_install.py
    tests/integration/test_wheel_install.py
    tests/widgets/test_about.py
    # Organize: tags, folders, fields, views, bulk actions
    tests/unit/test_bulk_and_organize.py
    tests/unit/test_organize_*.py
    tests/widgets/test_organize_*.py
    tests/integration/test_organize_*.py
    # Reliability: files on disk, fuzz campaign, secrets
    tests/unit/test_atomic_file.py
    tests/unit/disk_writer_child.py
    tests/integration/test_secrets.py
    benchmarks/fuzz_campaign.py
    benchmarks/fuzz_worker.py
    benchmarks/fuzz_targets.py
    # Search
    tests/unit/test_search_*.py
    tests/widgets/test_search*.py
    benchmarks/search_query.py
    benchmarks/organized_inventory.py
    # The XAPI simulator (a test tool) and its tests
    scripts/xapi_sim
    scripts/xapi-simulator.py
    tests/xapi_sim_helpers.py
    tests/xapi_sim_console.py
    tests/unit/test_xapi_sim_*.py
    tests/integration/test_xapi_sim_*.py
    # XAPI pools' alerts, resync, master loss and scripted runs
    tests/unit/test_xapi_messages.py
    tests/integration/test_xapi_alerts.py
    tests/integration/test_xapi_master_loss.py
    tests/widgets/test_xapi_resync.py
    tests/integration/test_xapi_scripted_runs.py
    benchmarks/xapi_alert_latency.py
    # Keyboard-first and appearance
    tests/unit/test_fuzzy.py
    tests/widgets/test_keyboard_first.py
    tests/widgets/test_appearance.py
    tests/widgets/test_hidpi.py
    tests/widgets/test_window_layout.py
    scripts/screenshot-appearance.py
    benchmarks/palette_fuzzy.py
    # Start-up: the frame painted first, then filled
    tests/widgets/test_startup.py
    benchmarks/startup.py
    benchmarks/host_facts.py
    # Console decoding against the codec's own time
    benchmarks/console_decode.py
    benchmarks/rfb_encoders.py
    # Inventory at scale: its benchmarks and their libvirt floor
    benchmarks/inventory_scale.py
    benchmarks/inventory_one_host.py
    benchmarks/libvirt_floor.py
    tests/unit/test_heap_trim.py
    tests/widgets/test_tree_usage_repaint.py
    tests/widgets/test_tree_multidata.py
    # SPICE against remote-viewer, and key to echo against a bare client
    benchmarks/console_latency.py
    benchmarks/bare_clients.py
    benchmarks/spice_vs_remote_viewer.py
    tests/widgets/test_console_view.py
)
if [ "$#" -gt 0 ]; then
    MYPY_PATHS=("$@")
    RUFF_PATHS=("$@")
fi

for tool in ruff mypy; do
    [ -x ".venv/bin/$tool" ] || { echo "lint.sh: .venv/bin/$tool missing: run scripts/setup.sh"; exit 2; }
done

status=0
echo "lint.sh: ruff $(.venv/bin/ruff --version | cut -d' ' -f2) on: ${RUFF_PATHS[*]}"
.venv/bin/ruff check --no-cache --output-format=concise "${RUFF_PATHS[@]}" || status=1
echo "lint.sh: mypy $(.venv/bin/mypy --version | cut -d' ' -f2) on: ${MYPY_PATHS[*]}"
.venv/bin/mypy "${MYPY_PATHS[@]}" || status=1

if [ "$status" = 0 ]; then
    echo "lint.sh: ruff and mypy found nothing"
else
    echo "lint.sh: FAILED: see the findings above"
fi
exit "$status"
