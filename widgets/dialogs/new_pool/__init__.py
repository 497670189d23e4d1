"""The New Storage Pool wizard."""
