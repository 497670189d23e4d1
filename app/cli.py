"""``hvconsole`` on the command line: parse the arguments, then hand over to the window.

This module and ``app/__main__.py`` are the composition root: the only code in app/ that
imports widgets/, and only lazily, after the arguments are parsed, so that ``--version``
and ``--help`` answer without creating a QApplication (or loading QtWidgets at all).
"""
from __future__ import annotations

import argparse
import logging
import sys

from app.version import version_line

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hvconsole",
        description="A desktop console for KVM and Xen hosts, through libvirt.")
    parser.add_argument(
        "--connect", "-c", metavar="URI", action="append", default=[],
        help="connect to this libvirt URI instead of the saved servers (repeatable); "
             "not saved")
    parser.add_argument(
        "--show-domain", metavar="NAME",
        help="select the first VM with this name once the inventory has loaded")
    parser.add_argument(
        "--show-domain-editor", metavar="NAME",
        help="open the Properties of the first VM with this name (as virt-manager's "
             "--show-domain-editor); with --screenshot, save a picture of that dialog")
    parser.add_argument(
        "--show-domain-creator", action="store_true",
        help="open the New VM wizard for the (first) --connect host once it is connected; "
             "with --screenshot, save a picture of the wizard and exit (status 1 when it "
             "could not read what the host offers)")
    parser.add_argument(
        "--screenshot", metavar="FILE",
        help="save the window as a PNG once every connection's attempt has ended, then "
             "exit; the exit status is 1 (with the reasons on stderr) when a connection "
             "did not end connected or --show-domain found no such VM")
    parser.add_argument(
        "target", nargs="?", metavar="vnc://HOST:PORT | spice://HOST:PORT | FILE.vv",
        help="open just the console of this address or virt-viewer file; with "
             "--screenshot, save its screen as a PNG once it arrived, then exit")
    parser.add_argument(
        "--vnc-cert-dir", metavar="DIR",
        help="for a VNC console with TLS (VeNCrypt): the folder with the CA's ca-cert.pem "
             "(and client-cert.pem, client-key.pem); default ~/.pki/libvirt-vnc, then "
             "/etc/pki/libvirt-vnc")
    parser.add_argument(
        "--color-scheme", choices=("auto", "light", "dark"), default="auto",
        help="light or dark window colours; auto (the default) follows the desktop's "
             "colour scheme and its changes")
    parser.add_argument("--version", action="store_true",
                        help="print the versions of HVConsole, libvirt and Qt, then exit")
    parser.add_argument("--debug", action="store_true",
                        help="log debugging messages to standard error")
    return parser


def setup_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    if debug:
        # asyncio's own debug chatter (selector choice, slow callbacks) stays useful.
        logging.getLogger("asyncio").setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        print(version_line())
        return 0
    setup_logging(args.debug)
    if args.target:
        from widgets.console.standalone import run as run_console
        return run_console(args)
    from widgets.startup import run  # composition root: see the module docstring
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
