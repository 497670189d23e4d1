"""Remote consoles without Qt: the parts every console protocol shares (framebuffer,
damage, input tables, transports, connection state) and one package per protocol (rfb/
for VNC; SPICE plugs into the same pieces)."""
