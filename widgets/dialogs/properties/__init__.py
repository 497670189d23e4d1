"""VM Properties: the dialog (dialog.py) and one module per page."""
