"""libvirt connector: host connections, URI checks and libvirt's event loop on asyncio (no Qt)."""
