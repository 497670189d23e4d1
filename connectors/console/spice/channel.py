"""One SPICE channel: its own stream from ``transport.open()``, the link, then a message
loop that answers the messages every channel shares (acks, pings, notices) and hands the
rest to the channel's handler.

The handler contract below is what the main, display, inputs and cursor channels
implement; it stays stable so each can be written and tested on its own.

The SpiceClient builds the display handler as ``DisplayChannel(client, channel_id)``
(connectors/console/spice/display.py), ``client`` being the ConsoleClient whose
``framebuffer`` it draws into; it calls ``client.on_resize(w, h)`` after a new primary
surface, counts ``client.frames`` and calls ``client.on_update()`` when a batch of
drawing is done (once per batch of messages that arrived together), and
``client.on_notice(sentence)`` for what it cannot show (an image type it does not decode).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from connectors.console.framebuffer import FramebufferError
from connectors.console.spice import wire
from connectors.console.state import ConsoleError, ProtocolError
from connectors.console.transport import Channel, Transport

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
    others. An optional ``linked(server_common_caps, server_channel_caps)`` method is
    called once the link succeeded, before ``initial_messages()``: what the server
    announced (e.g. whether it takes a preferred-compression message). Optional
    ``begin_batch()`` and ``end_batch()`` methods frame the messages that arrived together
    and are handled in one go: a handler may leave per-batch work (the display's one
    repaint) to ``end_batch()``.
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


# ---- the channel ----

log = logging.getLogger(__name__)

LINK_TIMEOUT_S = 15.0
BODY_TIMEOUT_S = 30.0   # a message that has begun must end within this
READ_CHUNK = 1 << 20    # at most this much is taken from the stream at once
OUR_COMMON_CAPS = wire.caps_words(wire.CAP_PROTOCOL_AUTH_SELECTION, wire.CAP_AUTH_SPICE,
                                  wire.CAP_MINI_HEADER)


class SpiceChannel:
    """One channel's connection. ``link()`` opens the stream and completes the link stage
    (sending ``ticket``, "" when none is known); ``run()`` then reads messages until the
    stream ends, answering the common ones and passing the others to ``handler``."""

    def __init__(self, transport: Transport, handler: ChannelHandler, *,
                 connection_id: int = 0, channel_id: int = 0, ticket: str = "") -> None:
        self.transport = transport
        self.handler = handler
        self.connection_id = connection_id
        self.channel_id = channel_id
        self.ticket = ticket
        self.name = wire.CHANNEL_NAMES.get(handler.channel_type, str(handler.channel_type))
        self.max_message_size = int(getattr(handler, "max_message_size",
                                            wire.MAX_MESSAGE_SIZE))
        self.mini_header = False
        self.closed = False
        self.disconnect_reason: str | None = None
        self.messages_received = 0
        self._stream: Channel | None = None
        self._serial = 0                  # full headers only: the last serial sent
        self._ack_window = 0
        self._ack_left = 0
        self._replies: list[bytes] | None = None
        self._watch: _StallWatch | None = None

    # ---- link ----

    async def link(self) -> None:
        self._stream = await self.transport.open()
        try:
            await asyncio.wait_for(self._link(self._stream.reader, self._stream.writer),
                                   LINK_TIMEOUT_S)
        except asyncio.TimeoutError:
            self.close()
            raise ConsoleError(f"The SPICE server at {self.transport.description} did not "
                               f"finish linking its {self.name} channel within "
                               f"{LINK_TIMEOUT_S:g} s.") from None
        except asyncio.IncompleteReadError:
            self.close()
            raise ConsoleError(f"The SPICE server at {self.transport.description} closed the "
                               f"connection while linking its {self.name} channel.") from None
        except (ConnectionError, OSError) as err:
            self.close()
            raise ConsoleError(f"The SPICE connection broke while linking its {self.name} "
                               f"channel: {getattr(err, 'strerror', None) or err}.") from None
        except BaseException:
            self.close()
            raise

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        common, channel = self.handler.capabilities()
        common = wire.merge_caps(list(common), OUR_COMMON_CAPS)
        writer.write(wire.link_message(self.connection_id, self.handler.channel_type,
                                       self.channel_id, common, list(channel)))
        await writer.drain()
        size = wire.parse_link_header(await reader.readexactly(wire.LINK_HEADER.size))
        reply = wire.parse_link_reply(await reader.readexactly(size))
        if reply.error != wire.LINK_OK:
            raise wire.link_error(reply.error, self.name)
        if wire.has_cap(reply.common_caps, wire.CAP_PROTOCOL_AUTH_SELECTION):
            if not wire.has_cap(reply.common_caps, wire.CAP_AUTH_SPICE):
                raise ConsoleError("The SPICE server asks for SASL authentication, which "
                                   "HVConsole does not support.")
            writer.write(wire.pack("I", wire.CAP_AUTH_SPICE))
        writer.write(wire.encrypt_ticket(reply.public_key, self.ticket))
        # The first messages go with the ticket, not after the result: a display server
        # starts drawing the moment the link succeeds, and only a preferred-compression
        # message it has already received decides how the first screen is compressed.
        # (The server reads exactly the ticket's bytes; the rest waits in the socket. On
        # a refusal the server closes the connection and they are dropped.)
        self.mini_header = wire.has_cap(reply.common_caps, wire.CAP_MINI_HEADER)
        linked = getattr(self.handler, "linked", None)
        if linked is not None:
            linked(reply.common_caps, reply.channel_caps)
        for msg_type, payload in self.handler.initial_messages():
            self.send(msg_type, payload)
        await writer.drain()
        wire.link_result(int.from_bytes(await reader.readexactly(4), "little"))

    # ---- messages ----

    def send(self, msg_type: int, payload: bytes = b"") -> None:
        """Queue one message (no-op once closed); while a batch of server messages is
        handled, with the batch's other replies."""
        if self.closed or self._stream is None:
            return
        if self.mini_header:
            data = wire.pack_message(msg_type, payload)
        else:
            self._serial += 1
            data = wire.pack_message(msg_type, payload, self._serial)
        if self._replies is not None:   # answers to a batch leave together after it
            self._replies.append(data)
        else:
            self._stream.writer.write(data)

    def send_all(self, messages: list[tuple[int, bytes]]) -> None:
        for msg_type, payload in messages:
            self.send(msg_type, payload)

    async def run(self) -> None:
        """Read and handle messages until the stream ends. Raises ConsoleError (with the
        server's reason when it gave one); returns quietly after close()."""
        if self._stream is None:
            raise ConsoleError("not connected")
        task = asyncio.current_task()
        assert task is not None, "run() is awaited in a task"
        self._watch = watch = _StallWatch(task, BODY_TIMEOUT_S)
        try:
            await self._read_messages(self._stream.reader, self._stream.writer, watch)
        except asyncio.IncompleteReadError:
            if not self.closed:
                raise ConsoleError(self._ended("closed the connection")) from None
        except asyncio.CancelledError:
            if not watch.fired or task.uncancel():
                raise
            raise ProtocolError(f"the server stopped in the middle of a {self.name} message "
                                f"for {BODY_TIMEOUT_S:g} s") from None
        except (ConnectionError, OSError) as err:
            if not self.closed:
                raise ConsoleError(self._ended(
                    f"broke the connection ({getattr(err, 'strerror', None) or err})")) from None
        except FramebufferError as err:
            raise ProtocolError(str(err)) from None
        finally:
            watch.stop()
            self._replies = None
            self.close()

    async def _read_messages(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter, watch: _StallWatch) -> None:
        """Whatever has arrived is read at once and every complete message in it handled
        in one go (a display server sends a hundred small drawings per screen change);
        the start of an incomplete one waits for the rest, watched by one timer."""
        header = wire.MINI_HEADER if self.mini_header else wire.FULL_HEADER
        head_size, unpack_from, mini = header.size, header.unpack_from, self.mini_header
        limit = self.max_message_size
        begin = getattr(self.handler, "begin_batch", None)
        end = getattr(self.handler, "end_batch", None)
        handle, first_own = self.handler.handle, wire.FIRST_CHANNEL_MESSAGE
        pending: list[bytes] = []     # the first bytes of a message still arriving
        have = 0
        need = head_size              # bytes the pending message needs in all
        while not self.closed:
            data = await reader.read(READ_CHUNK)
            if not data:
                raise asyncio.IncompleteReadError(b"".join(pending), need)
            if pending:
                pending.append(data)
                have += len(data)
                if have < need:
                    continue
                data = b"".join(pending)
                pending = []
            view = memoryview(data)
            size_all, pos = len(data), 0
            need = head_size
            self._replies = []
            if begin is not None:
                begin()
            while size_all - pos >= head_size:
                if mini:
                    msg_type, size = unpack_from(data, pos)
                    sub_list = 0
                else:
                    _serial, msg_type, size, sub_list = unpack_from(data, pos)
                if size > limit:
                    wire.check_size(size, limit, msg_type)
                stop = pos + head_size + size
                if stop > size_all:
                    need = head_size + size
                    break
                body = view[pos + head_size:stop]
                pos = stop
                if msg_type >= first_own and not sub_list:
                    # The display's thousands of drawings a second: counted and handed
                    # over here, without the general path's three calls each.
                    self.messages_received += 1
                    if self._ack_left:
                        self._ack_due()
                    answers = handle(msg_type, body)
                    if answers:
                        self.send_all(answers)
                elif msg_type == wire.MSG_LIST or sub_list:
                    self._received_with_list(msg_type, body, sub_list)
                else:
                    self._received(msg_type, body)
                if self.closed:
                    return
            if end is not None:
                end()
            replies, self._replies = self._replies, None
            if replies:
                writer.write(b"".join(replies))
            if pos < size_all:
                pending = [data[pos:]]
                have = size_all - pos
                watch.waiting(self.messages_received)
            else:
                have = 0
                watch.idle()
            if writer.transport.get_write_buffer_size():
                await writer.drain()

    def _ended(self, what: str) -> str:
        reason = f": {self.disconnect_reason}" if self.disconnect_reason else "."
        return f"The SPICE server {what}{reason}"

    def _received(self, msg_type: int, payload: memoryview) -> None:
        self._count()
        self._dispatch(msg_type, payload)

    def _count(self) -> None:
        """One more message for the server's ack window (a list counts once)."""
        self.messages_received += 1
        if self._ack_left:
            self._ack_due()

    def _ack_due(self) -> None:
        """A message of the ack window has arrived: ack the window when it is full."""
        self._ack_left -= 1
        if not self._ack_left:
            self.send(wire.MSGC_ACK)
            self._ack_left = self._ack_window

    def _received_with_list(self, msg_type: int, body: memoryview, sub_list: int) -> None:
        """A SPICE_MSG_LIST (mini headers) or a message whose full header points at a list
        of sub-messages: they come first, in order (a cache eviction before the drawing
        that needed the room); a LIST has no message of its own. Counted once for acks."""
        parts, own_end = wire.sub_messages(body, 0 if msg_type == wire.MSG_LIST else sub_list)
        self._count()
        for sub_type, sub_body in parts:
            if sub_type == wire.MSG_LIST:
                raise ProtocolError(f"a {self.name} list of sub-messages contains a list")
            self._dispatch(sub_type, sub_body)
        if msg_type != wire.MSG_LIST:
            self._dispatch(msg_type, body[:own_end])

    def _dispatch(self, msg_type: int, payload: memoryview) -> None:
        if msg_type >= wire.FIRST_CHANNEL_MESSAGE:
            self.send_all(self.handler.handle(msg_type, payload))
        else:
            self._common(msg_type, wire.Payload(payload, f"{self.name} message {msg_type}"))

    def _common(self, msg_type: int, p: wire.Payload) -> None:
        if msg_type == wire.MSG_SET_ACK:
            generation, window = p.unpack("II")
            self.send(wire.MSGC_ACK_SYNC, wire.pack("I", generation))
            self._ack_window = self._ack_left = window
        elif msg_type == wire.MSG_PING:
            ping_id, timestamp = p.unpack("IQ")
            self.send(wire.MSGC_PONG, wire.pack("IQ", ping_id, timestamp))
        elif msg_type == wire.MSG_NOTIFY:
            _time, severity, _visibility, what, length = p.unpack("QIIII")
            text = bytes(p.take(min(length, p.remaining))).split(b"\0")[0]
            log.info("SPICE %s channel notice (severity %d, code %d): %s", self.name,
                     severity, what, text.decode("utf-8", "replace"))
        elif msg_type == wire.MSG_DISCONNECTING:
            _time, reason = p.unpack("QI")
            self.disconnect_reason = str(wire.link_error(reason)) if reason else None
        elif msg_type == wire.MSG_MIGRATE:
            raise ConsoleError("The VM is moving to another host; the console connects "
                               "again once it has arrived.")
        else:  # WAIT_FOR_CHANNELS (no serials with mini headers), MIGRATE_DATA
            log.debug("SPICE %s channel: common message %d ignored", self.name, msg_type)

    def close(self) -> None:
        self.closed = True
        if self._stream is not None:
            self._stream.close()


class _StallWatch:
    """Ends a channel (cancels its task) whose server stopped in the middle of a message
    for ``limit`` seconds. One timer at a time, armed when a message is left incomplete
    and re-armed only when it fires: not a timer per message, which under qasync would
    start and stop a Qt timer for each of thousands of messages a second."""

    def __init__(self, task: asyncio.Task[None], limit: float) -> None:
        self.task = task
        self.limit = limit
        self.fired = False
        self._loop = asyncio.get_running_loop()
        self._message: int | None = None   # which message is incomplete (a count)
        self._since = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def waiting(self, message: int) -> None:
        """Message number ``message`` has begun and not ended."""
        if message != self._message:
            self._message = message
            self._since = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self.limit, self._check)

    def idle(self) -> None:
        """Nothing is half-read."""
        self._message = None

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self._message is None:
            return
        due = self._since + self.limit
        if self._loop.time() < due:
            self._timer = self._loop.call_at(due, self._check)
            return
        self.fired = True
        self.task.cancel()
