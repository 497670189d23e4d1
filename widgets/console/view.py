"""ConsoleView: paints a ConsoleSession's framebuffer (only the damaged rectangles) and
sends keyboard and mouse input to it. Protocol-neutral: it only uses ConsoleClient.

Scaling: ``fit`` scales the screen into the widget keeping its aspect; otherwise the
widget takes the framebuffer's size (inside a scroll area: 1:1 with scroll bars).
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QColor, QCursor, QImage, QKeyEvent, QMouseEvent, QPainter,
                           QPixmap, QWheelEvent)
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.console_session import ConsoleSession
from connectors.console import keymap
from connectors.console.framebuffer import Rect

BUTTON_BITS = {Qt.MouseButton.LeftButton: 1, Qt.MouseButton.MiddleButton: 2,
               Qt.MouseButton.RightButton: 4}
WHEEL_UP, WHEEL_DOWN, WHEEL_LEFT, WHEEL_RIGHT = 8, 16, 32, 64
RELATIVE_CENTRE = 0x7FFF  # QEMU reads relative motion as offsets from this


# Ctrl+Alt+Enter toggles fullscreen (as in VMware's consoles); the Enter is not sent to
# the guest. Ctrl+Alt alone releases the grab, so the combination also works grabbed.
FULLSCREEN_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
FULLSCREEN_KEY_TEXT = "Ctrl+Alt+Enter"
CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
# Ctrl+Alt+Home gives the keyboard back to the window: the one combination a console with
# the focus does not send to the guest. The window's "Go to Tree" action (same keys) takes
# it from there (widgets/keyboard_navigation.py).
LEAVE_KEY = Qt.Key.Key_Home
LEAVE_KEY_TEXT = "Ctrl+Alt+Home"


# A changing SPICE text screen arrives as ~40 row-wide rectangles per frame: beyond this
# many the view asks for one repaint of their bounding box (paintEvent paints the
# bounding rectangle of the update region anyway) instead of one update() call each.
MAX_UPDATE_RECTS = 8


def bounding_rect(damage: list[Rect]) -> Rect:
    """The smallest rectangle holding every damaged one."""
    left = min(d.x for d in damage)
    top = min(d.y for d in damage)
    right = max(d.x + d.w for d in damage)
    bottom = max(d.y + d.h for d in damage)
    return Rect(left, top, right - left, bottom - top)


class ConsoleView(QWidget):
    grabChanged = Signal(bool)  # the keyboard (and mouse) are grabbed by the console
    fullscreenKeyPressed = Signal()   # Ctrl+Alt+Enter
    pointerEntered = Signal()

    def __init__(self, session: ConsoleSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.fit = True
        self.grabbed = False
        self._image: QImage | None = None
        self._image_key: tuple[int, int] | None = None
        self._buttons = 0
        self._modifiers_down: set[int] = set()
        self._last_relative: QPoint | None = None
        self._swallowed: int | None = None   # a key kept from the guest: its release too
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        session.frameUpdated.connect(self._frame_updated)
        session.resized.connect(self._resized)
        session.cursorChanged.connect(self._cursor_changed)

    # ---- geometry ----

    def set_fit(self, fit: bool) -> None:
        self.fit = fit
        self._resized()

    def sizeHint(self) -> QSize:
        fb = self.session.framebuffer
        return QSize(fb.width, fb.height)

    def _resized(self, *_args) -> None:
        fb = self.session.framebuffer
        if self.fit:
            self.setMinimumSize(1, 1)
            self.setMaximumSize(16777215, 16777215)
        else:
            self.setFixedSize(fb.width, fb.height)
        self.updateGeometry()
        self.update()

    def screen_rect(self) -> QRectF:
        """Where the guest's screen is drawn in this widget."""
        fb = self.session.framebuffer
        if not self.fit:
            return QRectF(0, 0, fb.width, fb.height)
        scale = min(self.width() / fb.width, self.height() / fb.height)
        w, h = fb.width * scale, fb.height * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def to_guest(self, pos) -> tuple[int, int]:
        fb = self.session.framebuffer
        r = self.screen_rect()
        x = (pos.x() - r.x()) * fb.width / max(r.width(), 1)
        y = (pos.y() - r.y()) * fb.height / max(r.height(), 1)
        return (max(0, min(fb.width - 1, int(x))), max(0, min(fb.height - 1, int(y))))

    # ---- painting ----

    def image(self) -> QImage:
        """A QImage over the framebuffer's memory (no copy); rebuilt after a resize."""
        fb = self.session.framebuffer
        key = (id(fb), fb.generation)
        if self._image is None or self._image_key != key:
            self._image = QImage(fb.pixels.data, fb.width, fb.height, fb.width * 4,
                                 QImage.Format.Format_RGB32)
            self._image_key = key
        return self._image

    def _frame_updated(self) -> None:
        fb = self.session.framebuffer
        damage = fb.take_damage()
        if not damage:
            return
        if len(damage) > MAX_UPDATE_RECTS:
            damage = [bounding_rect(damage)]
        if not self.fit:
            for d in damage:
                self.update(d.x, d.y, d.w, d.h)
            return
        r = self.screen_rect()
        sx, sy = r.width() / fb.width, r.height() / fb.height
        for d in damage:
            self.update(QRectF(r.x() + d.x * sx, r.y() + d.y * sy, d.w * sx, d.h * sy)
                        .toAlignedRect().adjusted(-1, -1, 1, 1))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        area = event.rect()
        image = self.image()
        r = self.screen_rect()
        if not self.fit:
            painter.drawImage(area.topLeft(), image, area)
            return
        painter.fillRect(area, QColor(0, 0, 0))
        fb = self.session.framebuffer
        sx, sy = fb.width / r.width(), fb.height / r.height()
        target = QRectF(area).intersected(r)
        if target.isEmpty():
            return
        source = QRectF((target.x() - r.x()) * sx, (target.y() - r.y()) * sy,
                        target.width() * sx, target.height() * sy)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                              r.width() < fb.width)
        painter.drawImage(target, image, source)

    def _cursor_changed(self, cursor) -> None:
        if cursor is None:
            self.setCursor(Qt.CursorShape.BlankCursor)
            return
        h, w = cursor.pixels.shape[:2]
        data = cursor.pixels.copy()
        image = QImage(data.data, w, h, w * 4, QImage.Format.Format_ARGB32).copy()
        self.setCursor(QCursor(QPixmap.fromImage(image), cursor.hot_x, cursor.hot_y))

    # ---- keyboard ----

    def event(self, event) -> bool:
        # While the console has the focus every key is the guest's: no shortcut of the
        # window around it (Ctrl+F, Ctrl+N, Ctrl+Q of the main window) takes it first.
        if event.type() == event.Type.ShortcutOverride:
            if event.key() == LEAVE_KEY and event.modifiers() & CTRL_ALT == CTRL_ALT:
                self.release_grab()
                event.ignore()      # not accepted: the window's shortcut runs
                return True
            event.accept()
            return True
        # Tab and Backtab belong to the guest, not to Qt's focus chain.
        if event.type() == event.Type.KeyPress and event.key() in (Qt.Key.Key_Tab,
                                                                   Qt.Key.Key_Backtab):
            self.keyPressEvent(event)
            return True
        return super().event(event)

    def enterEvent(self, event) -> None:
        self.pointerEntered.emit()
        super().enterEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self._key(event, True)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        self._key(event, False)

    def _key(self, event: QKeyEvent, down: bool) -> None:
        client = self.session.client
        key = int(event.key())
        if key == self._swallowed:
            if event.isAutoRepeat():
                return
            self._swallowed = None
            if not down:
                return   # the release of the key kept from the guest
        if (down and event.key() in FULLSCREEN_KEYS
                and event.modifiers() & CTRL_ALT == CTRL_ALT):
            self._swallowed = key
            self.fullscreenKeyPressed.emit()
            return
        if key in (keymap.QT_CONTROL, keymap.QT_ALT):
            (self._modifiers_down.add if down else self._modifiers_down.discard)(key)
            if down and self.grabbed and self._modifiers_down == {keymap.QT_CONTROL,
                                                                   keymap.QT_ALT}:
                self.release_grab()
        if client is None or (event.isAutoRepeat() and not down):
            return
        native = event.nativeScanCode()
        evdev = native - 8 if native > 8 else None
        scancode = keymap.qt_scancode(key, evdev)
        keysym = keymap.qt_keysym(key, event.text())
        if keysym is None and scancode is None:
            return
        client.send_key(down, keysym or 0, scancode)

    def focusOutEvent(self, event) -> None:
        # Keys held when the focus leaves would stay down in the guest.
        client = self.session.client
        if client is not None:
            for key in list(self._modifiers_down):
                client.send_key(False, keymap.QT_TO_KEYSYM[key], keymap.QT_TO_SCANCODE[key])
        self._modifiers_down.clear()
        self._swallowed = None
        super().focusOutEvent(event)

    def take_grab(self) -> None:
        if not self.grabbed:
            self.grabKeyboard()
            client = self.session.client
            if client is not None and not client.absolute_pointer:
                self.grabMouse()
                self.setCursor(Qt.CursorShape.BlankCursor)
                self._last_relative = None
            self.grabbed = True
            self.grabChanged.emit(True)

    def release_grab(self) -> None:
        if self.grabbed:
            self.releaseKeyboard()
            self.releaseMouse()
            self.unsetCursor()
            self.grabbed = False
            self.grabChanged.emit(False)

    # ---- mouse ----

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.take_grab()
        self._buttons |= BUTTON_BITS.get(event.button(), 0)
        self._pointer(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._buttons &= ~BUTTON_BITS.get(event.button(), 0)
        self._pointer(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._pointer(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        client = self.session.client
        if client is None:
            return
        delta = event.angleDelta()
        x, y = self.to_guest(event.position())
        for amount, up_bit, down_bit in ((delta.y(), WHEEL_UP, WHEEL_DOWN),
                                         (delta.x(), WHEEL_LEFT, WHEEL_RIGHT)):
            if amount:
                bit = up_bit if amount > 0 else down_bit
                client.send_pointer(self._buttons | bit, x, y)
                client.send_pointer(self._buttons, x, y)

    def _pointer(self, event: QMouseEvent) -> None:
        client = self.session.client
        if client is None:
            return
        if client.absolute_pointer:
            x, y = self.to_guest(event.position())
            client.send_pointer(self._buttons, x, y)
            return
        if not self.grabbed:
            return
        # Relative: send the motion since the last event, then put the pointer back in
        # the middle so it never reaches the widget's edge.
        centre = self.rect().center()
        pos = event.position().toPoint()
        if self._last_relative is not None:
            dx, dy = pos.x() - self._last_relative.x(), pos.y() - self._last_relative.y()
            client.send_pointer(self._buttons, RELATIVE_CENTRE + dx, RELATIVE_CENTRE + dy)
        QCursor.setPos(self.mapToGlobal(centre))
        self._last_relative = centre
