"""VM → New VM…: the wizard (wizard.py) and one module per page."""
from .wizard import NewVmWizard

__all__ = ["NewVmWizard"]
