"""Names for Qt's types where PySide6's own annotations are long.

Qt passes either kind of index to a model's methods (QModelIndex or the persistent one),
and PySide6 declares the overridable methods that way: an override must accept both."""
from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias, cast

from PySide6.QtCore import QModelIndex, QModelRoleData, QModelRoleDataSpan, QPersistentModelIndex

AnyIndex: TypeAlias = QModelIndex | QPersistentModelIndex

RoleData: TypeAlias = QModelRoleDataSpan | QModelRoleData
"""What Qt hands a model's ``multiData``: the roles a view wants of one cell at once."""


def role_data_of(span: RoleData) -> Iterable[QModelRoleData]:
    """The roles of a ``multiData`` call, one by one (PySide6 iterates a span; its type
    stubs do not say so)."""
    if isinstance(span, QModelRoleData):
        return (span,)
    return cast("Iterable[QModelRoleData]", span)
