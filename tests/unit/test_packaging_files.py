"""What the Debian package installs beside the code, checked by the desktop's own tools:
the desktop entry (desktop-file-validate), the AppStream metadata made from CHANGELOG.md
(appstreamcli validate), the .vv MIME type and the man page made from the argparse help
(groff with warnings on). scripts/setup.sh installs the tools; tests/integration/
test_deb_install.py checks the same files inside the built package.
"""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
APP_ID = "io.github.hvconsole.HVConsole"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _load(name: str):
    """A generator script of packaging/ (a folder of scripts, not a package: "packaging"
    is also PyPI's packaging library)."""
    spec = importlib.util.spec_from_file_location(f"hvconsole_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


metainfo_maker = _load("make_metainfo")
manpage_maker = _load("make_manpage")


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: scripts/setup.sh installs it"
    return found


def test_the_desktop_entry_is_valid_and_opens_vv_files():
    entry = PACKAGING / f"{APP_ID}.desktop"
    done = subprocess.run([_tool("desktop-file-validate"), str(entry)], capture_output=True,
                          text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
    text = entry.read_text()
    assert "MimeType=application/x-virt-viewer;" in text
    assert f"Icon={APP_ID}\n" in text
    # A file's path, which the standalone console reads; %U would hand it a file:// URI.
    assert re.search(r"^Exec=hvconsole %f$", text, re.M)


def test_the_appstream_metadata_is_valid_with_this_versions_release_notes(tmp_path):
    made = tmp_path / f"{APP_ID}.metainfo.xml"
    made.write_text(metainfo_maker.metainfo((ROOT / "CHANGELOG.md").read_text(),
                                            metainfo_maker.homepage()))
    done = subprocess.run([_tool("appstreamcli"), "validate", "--no-net", str(made)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    tree = ET.parse(made)
    releases = tree.findall("releases/release")
    # The newest release in the changelog is the version being built.
    assert releases[0].get("version") == VERSION
    notes = ET.tostring(releases[0], encoding="unicode")
    assert "<code>hvconsole --version</code>" in notes
    shots = [image.text for image in tree.iter("image")]
    assert len(shots) >= 3
    for url in shots:
        assert url.startswith("https://")
        assert (ROOT / "docs" / url.rsplit("/", 1)[1]).is_file(), url


def test_the_changelog_reader_keeps_groups_items_and_code():
    text = ("# Changelog\nintro\n\n## 1.2.0 — 2027-01-05\nBetter.\n### Consoles\n"
            "- `hvconsole x.vv` opens <files> & more\n- two\n### Other\n- three\n"
            "## 1.1.0 - 2026-12-24\n- one\n")
    newest, older = metainfo_maker.parse_changelog(text)
    assert (newest.version, newest.date, older.version) == ("1.2.0", "2027-01-05", "1.1.0")
    xml = metainfo_maker.release_xml(newest)
    assert ET.fromstring(xml).find("description/ul/li/code").text == "hvconsole x.vv"
    assert "&lt;files&gt; &amp; more" in xml
    assert [p.text for p in ET.fromstring(xml).findall("description/p")] == [
        "Better.", "Consoles:", "Other:"]
    with pytest.raises(ValueError, match="not a release heading"):
        metainfo_maker.parse_changelog("## Unreleased\n- soon\n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["## 1.0 — 2026-01-01", "### Group", "- item `c`",
                                           "", "## x"]), st.text()), max_size=12))
def test_any_changelog_is_read_or_refused_in_words(lines):
    try:
        for release in metainfo_maker.parse_changelog("\n".join(lines)):
            # whatever the text, the XML made of it is well formed
            ET.fromstring(metainfo_maker.release_xml(release))
    except ValueError as err:
        assert "release heading" in str(err) or "cannot be in release notes" in str(err)


def test_the_mime_type_knows_vv_files_by_name_and_by_content():
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    kind = ET.parse(PACKAGING / f"{APP_ID}.mime.xml").getroot().find("m:mime-type", ns)
    assert kind.get("type") == "application/x-virt-viewer"
    assert kind.find("m:glob", ns).get("pattern") == "*.vv"
    assert kind.find("m:magic/m:match", ns).get("value") == "[virt-viewer]"


def test_the_man_page_lists_every_option_and_renders_without_warnings(tmp_path):
    from app.cli import build_parser
    parser = build_parser()
    page = manpage_maker.manpage(parser, VERSION, "2026-12-03")
    for action in parser._actions:
        for name in action.option_strings:
            assert manpage_maker.roff(name) in page, name
    assert f'"hvconsole {VERSION}"' in page
    source = tmp_path / "hvconsole.1"
    source.write_text(page)
    done = subprocess.run([_tool("groff"), "-man", "-Tutf8", "-ww", str(source)],
                          capture_output=True, text=True, env={"LC_ALL": "C.UTF-8"})
    assert done.returncode == 0 and not done.stderr, done.stderr
    shown = re.sub(r".\x08", "", done.stdout)       # overstrike bold and underline
    assert "--show-domain-editor NAME" in shown
    assert "FILE.vv" in shown and "SEE ALSO" in shown
