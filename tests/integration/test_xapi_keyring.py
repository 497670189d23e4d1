"""A pool's password through the keyring, as for libvirt servers: a real Secret Service
(gnome-keyring-daemon on a private session bus) behind app.remote_access. A wrong password
stores nothing; the right one, with "Remember" ticked, is kept after the pool accepted it
and used for the next connect without asking; it is never written to the saved servers
or the trusted-certificates file."""
from __future__ import annotations

import pytest

from app.certificates import TrustedCertificates
from app.config import ConnectionsStore
from app.connection_manager import ConnectionManager
from app.events_log import EventsLog
from app.inventory import InventoryModel
from app.remote_access import RemoteAccess
from app.vault import KeyringVault, secret_key
from connectors.libvirt.model import ConnState
from connectors.libvirt.uri import validate_uri
from connectors.xapi.uri import normalise_fingerprint
from tests.conftest import wait_until
from tests.integration.test_remote_hosts import Human, _stored, secret_service  # noqa: F401
from tests.xapi_sim_helpers import PASSWORD, start_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_pool_password_is_kept_in_the_keyring_once_accepted(
        secret_service, aloop, tmp_path):  # noqa: F811 - the fixture
    sim = start_process(tmp_path / "pool.db", "--generate-pool", "1,4", "--no-save")
    try:
        human = Human(credentials=[("root", "not-" + PASSWORD, True),
                                   ("root", PASSWORD, True)])
        events = EventsLog()
        manager = ConnectionManager(InventoryModel(), events,
                                    store=ConnectionsStore(tmp_path / "connections.json"),
                                    certificates=TrustedCertificates(tmp_path / "t.json"))
        RemoteAccess(manager, events, human.credentials, human.host_key,
                     vault=KeyringVault())
        uri = f"xapi://root@{sim.address}?fingerprint={normalise_fingerprint(sim.fingerprint)}"
        key = secret_key("passphrase", "root", validate_uri(uri))

        async def scenario():
            conn_id = manager.open(uri, save=True)
            await wait_until(lambda: manager.state(conn_id)[1], 30)
            assert manager.state(conn_id)[0] is ConnState.DISCONNECTED
            assert "authentication failed" in manager.state(conn_id)[1]
            assert _stored(key, secret_service.address) == ""
            await manager.reconnect(conn_id)
            await wait_until(lambda: manager.state(conn_id)[0] is ConnState.CONNECTED, 30)
            await wait_until(lambda: _stored(key, secret_service.address) == PASSWORD, 10)
            asked = len(human.credential_questions)
            await manager.disconnect_server(conn_id)
            await manager.reconnect(conn_id)          # from the keyring: nobody asked
            assert manager.state(conn_id)[0] is ConnState.CONNECTED
            assert len(human.credential_questions) == asked
            await manager.close_all()
        aloop.run_until_complete(scenario())
        saved = (tmp_path / "connections.json").read_text()
        assert sim.address in saved and PASSWORD not in saved
    finally:
        sim.stop()
