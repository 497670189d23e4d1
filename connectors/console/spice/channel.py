"""One SPICE channel: its own stream from ``transport.open()``, the link, then a message
loop that answers the messages every channel shares (acks, pings, notices) and hands the
rest to the channel's handler.

The handler contract below is what the main, display, inputs and cursor channels
implement; it stays stable so each can be written and tested on its own.

The SpiceClient builds the display handler as ``DisplayChannel(client, channel_id)``
(connectors/console/spice/display.py), ``client`` being the ConsoleClient whose
``framebuffer`` it draws into; it calls ``client.on_resize(w, h)`` after a new primary
surface, counts ``client.frames`` and calls ``client.on_update()`` when a batch of
drawing is done, and ``client.on_notice(sentence)`` for what it cannot show (an image
type it does not decode).
"""
from __future__ import annotations

from typing import Protocol

# A message to send: (message type, payload without header).
Outgoing = tuple[int, bytes]


class ChannelHandler(Protocol):
    """What a channel kind knows; the SpiceChannel does the rest.

    ``handle`` runs on the asyncio loop for every message that is not a common one
    (type >= 101); it returns the replies to send at once, in order. It may raise
    ProtocolError (or FramebufferError, which the channel turns into one) to end the
    channel. To send outside a reply (input events), the owner calls
    ``SpiceChannel.send(msg_type, payload)``.

    An optional ``max_message_size: int`` attribute raises the default bound on one
    message's payload (wire.MAX_MESSAGE_SIZE); the display channel needs more than the
    others.
    """

    channel_type: int  # wire.CHANNEL_MAIN = 1, CHANNEL_DISPLAY = 2, INPUTS = 3, CURSOR = 4

    def capabilities(self) -> tuple[list[int], list[int]]:
        """(common caps words, channel caps words) to announce in the link message. The
        channel ORs in the common caps it implements itself (auth selection, SPICE
        auth, mini header)."""
        ...

    def initial_messages(self) -> list[Outgoing]:
        """Sent right after the link succeeded (DISPLAY_INIT, PREFERRED_COMPRESSION...)."""
        ...

    def handle(self, msg_type: int, payload: memoryview) -> list[Outgoing]:
        """One server message of this channel's own kind; the replies to send."""
        ...
