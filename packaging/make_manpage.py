"""hvconsole(1), written from the command line's own argparse parser (app/cli.py).

    PYTHONPATH=. python3 packaging/make_manpage.py > hvconsole.1

The man page and ``hvconsole --help`` then never disagree: a new option lands in both.
The options' words are the parser's; the page adds only what a man page has and --help
has not (files, examples, see also). Importing app.cli needs neither Qt nor libvirt: it
loads the window lazily. The date is SOURCE_DATE_EPOCH's, for a reproducible package.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from app.cli import build_parser
from app.version import hvconsole_version

EXTRA_SECTIONS = {
    "FILES": [
        ("~/.config/hvconsole/", "saved servers and preferences"),
        ("~/.local/share/hvconsole/", "performance history"),
        ("~/.pki/libvirt-vnc/", "certificates for VNC consoles with TLS "
                                "(ca-cert.pem, client-cert.pem, client-key.pem)"),
    ],
    "EXAMPLES": [
        ("hvconsole", "open the window with the saved servers (or the demo lab)"),
        ("hvconsole -c qemu+ssh://root@kvm1/system", "manage one host over SSH"),
        ("hvconsole console.vv", "open the console described by a virt-viewer file"),
        ("hvconsole -c test:///default --screenshot tree.png",
         "save a picture of the window once connected, then exit"),
    ],
}
SEE_ALSO = "virsh(1), virt-manager(1), remote-viewer(1)"


def roff(text: str) -> str:
    """Text safe in a roff line: backslashes and hyphens escaped, no leading dot."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def metavar(action: argparse.Action, default: str) -> str:
    """What --help shows after the option: URI, FILE, {auto,light,dark}, ..."""
    return argparse.HelpFormatter("hvconsole")._format_args(action, default)


def option_lines(action: argparse.Action) -> list[str]:
    if action.option_strings:
        names = ", ".join(f"\\fB{roff(name)}\\fR" for name in action.option_strings)
        if action.nargs != 0:
            names += f" \\fI{roff(metavar(action, action.dest.upper()))}\\fR"
    else:
        names = f"\\fI{roff(metavar(action, action.dest))}\\fR"
    return [".TP", names, roff(action.help or "")]


def manpage(parser: argparse.ArgumentParser, version: str, date: str) -> str:
    usage = parser.format_usage().removeprefix("usage: ").split()
    lines = [
        f'.TH HVCONSOLE 1 "{date}" "hvconsole {roff(version)}" "User Commands"',
        ".SH NAME",
        f"hvconsole \\- {roff(parser.description or '')}",
        ".SH SYNOPSIS",
        f".B {roff(usage[0])}",
        roff(" ".join(usage[1:])),
        ".SH DESCRIPTION",
        "HVConsole shows KVM and Xen hosts and their virtual machines in one window: a tree "
        "of servers, lifecycle actions, performance graphs and the machines' VNC and SPICE "
        "consoles. Given a console address or a virt\\-viewer file, it opens just that "
        "console, as remote\\-viewer does.",
        ".SH OPTIONS",
    ]
    for action in parser._actions:       # argparse's own record of what it accepts
        if action.help != argparse.SUPPRESS:
            lines += option_lines(action)
    for section, entries in EXTRA_SECTIONS.items():
        lines.append(f".SH {section}")
        for term, meaning in entries:
            lines += [".TP", f"\\fB{roff(term)}\\fR", roff(meaning)]
    lines += [".SH SEE ALSO", roff(SEE_ALSO)]
    return "\n".join(lines) + "\n"


def main() -> int:
    stamp = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
    date = time.strftime("%Y-%m-%d", time.gmtime(stamp))
    sys.stdout.write(manpage(build_parser(), hvconsole_version(), date))
    return 0


if __name__ == "__main__":
    sys.exit(main())
