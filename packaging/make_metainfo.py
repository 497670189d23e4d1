"""AppStream metadata for HVConsole, with release notes taken from CHANGELOG.md.

    python3 packaging/make_metainfo.py CHANGELOG.md > io.github.hvconsole.HVConsole.metainfo.xml

The changelog is the one place release notes are written; software centres show them from
the metainfo file, so the file is made from it at build time rather than kept by hand
beside it. Only the changelog's own simple shape is read: ``## VERSION — DATE`` starts a
release, ``### Heading`` a group, ``- `` an item (one line each), other lines are
paragraphs. Backquoted words become ``<code>``; everything else is escaped text.

The screenshots are docs/*.png as the project's home serves them (pyproject.toml's
[project.urls] Homepage), since AppStream wants addresses, not files.
"""
from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "io.github.hvconsole.HVConsole.metainfo.xml.in"
RELEASE_HEADING = re.compile(r"^## +(\d[\w.+~-]*) +[—-] +(\d{4}-\d{2}-\d{2})\s*$")
NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass
class Release:
    version: str
    date: str
    # ("p", text) or ("li", text), in order; a group heading is a paragraph.
    blocks: list[tuple[str, str]] = field(default_factory=list)


def parse_changelog(text: str) -> list[Release]:
    """The releases of a changelog, newest first as written. A ``## `` line that is not
    ``VERSION — DATE`` is an error: a release without a date cannot be published."""
    releases: list[Release] = []
    for line in text.splitlines():
        if line.startswith("## "):
            found = RELEASE_HEADING.match(line)
            if not found:
                raise ValueError(f"not a release heading (## VERSION — YYYY-MM-DD): {line!r}")
            releases.append(Release(found[1], found[2]))
        elif not releases or not line.strip():
            continue
        elif line.startswith("### "):
            releases[-1].blocks.append(("p", line[4:].strip() + ":"))
        elif line.startswith("- "):
            releases[-1].blocks.append(("li", line[2:].strip()))
        else:
            releases[-1].blocks.append(("p", line.strip()))
    return releases


def inline(text: str) -> str:
    """Escaped text; `code` spans as <code>, **bold** markers dropped. A control character
    (which XML 1.0 cannot hold at all) is refused rather than dropped unseen."""
    bad = NOT_IN_XML.search(text)
    if bad:
        raise ValueError(f"character {bad[0]!r} cannot be in release notes: {text!r}")
    parts = text.replace("**", "").split("`")
    return "".join(f"<code>{escape(part)}</code>" if i % 2 else escape(part)
                   for i, part in enumerate(parts))


def release_xml(release: Release, indent: str = "    ") -> str:
    lines = [f'{indent}<release version="{escape(release.version)}" date="{release.date}">',
             f"{indent}  <description>"]
    in_list = False
    for kind, text in release.blocks:
        if kind == "li" and not in_list:
            lines.append(f"{indent}    <ul>")
            in_list = True
        elif kind == "p" and in_list:
            lines.append(f"{indent}    </ul>")
            in_list = False
        if kind == "li":
            lines.append(f"{indent}      <li>{inline(text)}</li>")
        else:
            lines.append(f"{indent}    <p>{inline(text)}</p>")
    if in_list:
        lines.append(f"{indent}    </ul>")
    lines += [f"{indent}  </description>", f"{indent}</release>"]
    return "\n".join(lines)


def homepage(pyproject: Path = HERE.parent / "pyproject.toml") -> str:
    with pyproject.open("rb") as fh:
        return tomllib.load(fh)["project"]["urls"]["Homepage"].rstrip("/")


def metainfo(changelog: str, home: str, template: str | None = None) -> str:
    releases = parse_changelog(changelog)
    if not releases:
        raise ValueError("the changelog has no release (## VERSION — DATE)")
    text = template if template is not None else TEMPLATE.read_text(encoding="utf-8")
    screenshots = home.replace("https://github.com/", "https://raw.githubusercontent.com/",
                               1) + "/main/docs"
    return (text.replace("@RELEASES@", "\n".join(release_xml(r) for r in releases))
                .replace("@SCREENSHOTS@", escape(screenshots))
                .replace("@HOMEPAGE@", escape(home)))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: make_metainfo.py CHANGELOG.md", file=sys.stderr)
        return 2
    sys.stdout.write(metainfo(Path(argv[0]).read_text(encoding="utf-8"), homepage()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
