"""Names for Qt's types where PySide6's own annotations are long.

Qt passes either kind of index to a model's methods (QModelIndex or the persistent one),
and PySide6 declares the overridable methods that way: an override must accept both."""
from __future__ import annotations

from typing import TypeAlias

from PySide6.QtCore import QModelIndex, QPersistentModelIndex

AnyIndex: TypeAlias = QModelIndex | QPersistentModelIndex
