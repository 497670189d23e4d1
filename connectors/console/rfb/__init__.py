"""An asyncio RFB (VNC) client: RFB 3.3, 3.7 and 3.8, no Qt."""
