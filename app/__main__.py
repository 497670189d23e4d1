"""``python -m app`` opens HVConsole, exactly as the ``hvconsole`` command does."""
import sys

from app.cli import main

sys.exit(main())
