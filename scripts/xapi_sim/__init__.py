"""A XAPI (XenServer / XCP-ng) simulator for HVConsole's tests: no real pool can run on
the build machines, so the XenAPI connector is tested against this server, which follows
the public XenAPI reference (XML-RPC and JSON-RPC, sessions, records, event.from, tasks,
/rrd_updates, console CONNECT) and loads its objects from xapi's own state.db format.

A test tool, not shipped: scripts/xapi-simulator.py is its command line; tests import it
with scripts/ on sys.path (tests/xapi_sim_helpers.py)."""
