"""XenServer / XCP-ng pools through XenAPI (XAPI): the client, its parsers and the pool
connection that feeds app/ the same records as connectors/libvirt. No Qt here.

- ``wire``: JSON-RPC requests and JSON-RPC / XML-RPC responses (values or XAPI failures).
- ``uri``: ``xapi://[user@]host[:port][?fingerprint=SHA256:…]``.
- ``tls``: the server certificate's fingerprint, pinned on every connection.
- ``transport``: one HTTPS exchange (JSON-RPC POST, GET of /rrd_updates, CONNECT).
- ``session``: login, SESSION_INVALID renewal, HOST_IS_SLAVE followed to the master.
- ``records`` / ``cache``: XAPI records as VMInfo/HostInfo/…, the pool's object cache.
- ``pool``: ``XapiPool``, one connection to a pool, with its event.from loop.
- ``xport``: the rrd_updates (xport) format.
"""
