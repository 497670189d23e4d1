"""XML: the whole definition in an editor with syntax highlighting. libvirt validates
an edit before it is applied (defineXML with validation); an error is shown at its line
and nothing changes.

While the text differs from what the other pages made, they are locked: one Apply
writes either the pages' edits or this text, never a mix of the two.
"""
from __future__ import annotations

import re

from PySide6.QtCore import QRegularExpression, QSignalBlocker
from PySide6.QtGui import (QColor, QFont, QFontDatabase, QSyntaxHighlighter, QTextCharFormat,
                           QTextCursor, QTextFormat)
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QStyle,
                               QTextEdit)

from app import colours
from widgets.dialogs.properties.base import Page, note


def _format(colour: str, bold: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(colour))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    return fmt


class XmlHighlighter(QSyntaxHighlighter):
    """Tags, attribute names and values, comments: enough to read a definition."""

    PATTERNS = (
        (QRegularExpression(r"</?[\w:.-]+|/?>"), colours.XML_TAG, True),
        (QRegularExpression(r"\b[\w:.-]+(?==['\"])"), colours.XML_ATTRIBUTE, False),
        (QRegularExpression(r"'[^']*'|\"[^\"]*\""), colours.XML_STRING, False),
        (QRegularExpression(r"&[\w#]+;"), colours.XML_ENTITY, False),
    )

    def __init__(self, document) -> None:
        super().__init__(document)
        # The scheme's colours when the page opens (app/colours.py).
        self.RULES = [(pattern, _format(colours.hex_colour(role), bold))
                      for pattern, role, bold in self.PATTERNS]
        self.COMMENT = _format(colours.hex_colour(colours.XML_COMMENT))

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt's name)
        for pattern, fmt in self.RULES:
            found = pattern.globalMatch(text)
            while found.hasNext():
                match = found.next()
                self.setFormat(match.capturedStart(), match.capturedLength(), fmt)
        self._comments(text)

    def _comments(self, text: str) -> None:
        start = 0 if self.previousBlockState() == 1 else text.find("<!--")
        self.setCurrentBlockState(0)
        while start >= 0:
            end = text.find("-->", start)
            if end < 0:
                self.setFormat(start, len(text) - start, self.COMMENT)
                self.setCurrentBlockState(1)
                return
            self.setFormat(start, end + 3 - start, self.COMMENT)
            start = text.find("<!--", end + 3)


LINE = re.compile(r"\bline (\d+)")


class XmlPage(Page):
    title = "XML"
    icon = QStyle.StandardPixmap.SP_FileDialogContentsView

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("xmlEditor")
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.highlighter = XmlHighlighter(self.editor.document())
        self.editor.textChanged.connect(self._text_edited)
        self.outer.addWidget(self.editor, 1)
        self.error_label = QLabel()
        self.error_label.setObjectName("xmlError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(colours.style(colours.ERROR))
        self.error_label.hide()
        self.outer.addWidget(self.error_label)
        line = QHBoxLayout()
        self.revert_button = QPushButton("&Discard XML Edits")
        self.revert_button.setObjectName("revertXmlButton")
        self.revert_button.clicked.connect(self._revert)
        line.addWidget(self.revert_button)
        line.addWidget(self.mark("xml"), 0)
        line.addStretch(1)
        self.outer.addLayout(line)
        self.outer.addWidget(note("libvirt checks the XML against its schema when you "
                                  "apply; the other pages are locked while it differs "
                                  "from what they show."))
        self.refresh()

    def refresh(self) -> None:
        text = self.session.xml_text
        if text is None:
            text = self.session.edited.to_xml()
        if self.editor.toPlainText() != text:
            with QSignalBlocker(self.editor):
                self.editor.setPlainText(text)
        self.revert_button.setEnabled(self.session.xml_text is not None)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.refresh()
        super().showEvent(event)

    def show_error(self, message: str, position: tuple[int, int] | None) -> None:
        """The host's or the parser's sentence, and the line it names highlighted."""
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        line = position[0] if position else None
        if line is None:
            found = LINE.search(message)
            line = int(found.group(1)) if found else None
        if line is None:
            self.editor.setExtraSelections([])
            return
        block = self.editor.document().findBlockByLineNumber(max(line - 1, 0))
        cursor = QTextCursor(block)
        if position is not None:
            cursor.movePosition(QTextCursor.MoveOperation.Right,
                                QTextCursor.MoveMode.MoveAnchor,
                                max(0, min(position[1], block.length() - 1)))
        self.editor.setTextCursor(cursor)
        selection = QTextEdit.ExtraSelection()
        selection.format.setBackground(colours.colour(colours.XML_ERROR_LINE))
        selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        selection.cursor = QTextCursor(block)
        self.editor.setExtraSelections([selection])
        self.editor.centerCursor()

    def error_line(self) -> int | None:
        found = self.editor.extraSelections()
        return found[0].cursor.blockNumber() + 1 if found else None

    def _text_edited(self) -> None:
        self.session.set_xml_text(self.editor.toPlainText())
        self.error_label.hide()
        self.editor.setExtraSelections([])
        self.revert_button.setEnabled(self.session.xml_text is not None)

    def _revert(self) -> None:
        self.session.set_xml_text(None)
        self.error_label.hide()
        self.editor.setExtraSelections([])
        self.refresh()
