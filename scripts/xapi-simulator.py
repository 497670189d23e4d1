#!/usr/bin/env python3
"""A XAPI (XenServer / XCP-ng) pool simulator for testing HVConsole's XenAPI support:
see docs/xapi-simulator.md. The code is the xapi_sim package beside this script."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from xapi_sim.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
