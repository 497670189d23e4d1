"""Units of work with progress, cancel and an outcome (XenCenter's AsyncAction): what the
commands start, and what scripts, bulk operations and the command-line verbs can start
without a command or a menu. See base.py."""
from __future__ import annotations

from .base import Action, ActionContext
from .host import DisconnectServer, ForgetSavedPassword, ReconnectServer, RemoveServer
from .vm import DeleteVMAction, VMLifecycle, VMShutdown

__all__ = ["Action", "ActionContext", "DeleteVMAction", "DisconnectServer",
           "ForgetSavedPassword", "ReconnectServer", "RemoveServer", "VMLifecycle",
           "VMShutdown"]
