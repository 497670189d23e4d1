"""The SPICE client: one asyncio stream per channel (main, display, inputs, cursor)."""
