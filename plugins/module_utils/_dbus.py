# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small synchronous client for the system DBus bus, on dbus-next's asyncio API.

dbus-next's GLib API crashes on recent Pythons, so a private event loop drives the asyncio one;
introspection is skipped (plain method calls), which is also what makes calls cheap.
"""

from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallUnavailableError,
    MissingLibraryError,
)


class SystemBus(object):
    """One connection to the system bus (``DBUS_SYSTEM_BUS_ADDRESS``, or ``address``).
    ``user`` names what needs it, for the missing-library message."""

    def __init__(self, address=None, user="this module"):
        try:
            # pylint: disable=import-outside-toplevel
            import asyncio
            from dbus_next import BusType, Message, MessageType, Variant
            from dbus_next.aio import MessageBus
        except ImportError:
            raise MissingLibraryError("dbus-next", user)
        self.variant = Variant
        self._message = Message
        self._error_type = MessageType.ERROR
        self._asyncio = asyncio
        self._loop = asyncio.new_event_loop()
        # MessageBus binds to the current event loop when it is created.
        asyncio.set_event_loop(self._loop)
        try:
            self._bus = self._loop.run_until_complete(
                MessageBus(bus_address=address, bus_type=BusType.SYSTEM).connect())
        except Exception as exc:  # pylint: disable=broad-except
            # dbus-next raises OSError subclasses, ValueError or its own errors here.
            self._close_loop()
            raise FirewallUnavailableError(
                "cannot connect to the system DBus bus%s: %s"
                % (" at " + address if address else "", exc))

    def message(self, destination, path, interface, member, signature="", body=None):
        return self._message(destination=destination, path=path, interface=interface,
                             member=member, signature=signature, body=body or [])

    def call(self, destination, path, interface, member, signature="", body=None):
        """``(error_name, body)``: error_name is None on success."""
        return self.call_all([self.message(destination, path, interface, member, signature,
                                           body)])[0]

    def call_all(self, messages, window=32):
        """Send the calls before reading replies, at most ``window`` in flight (dbus-next takes
        a full socket buffer for a broken connection); they go out in order."""
        replies = self._loop.run_until_complete(self._call_all(messages, window))
        return [(reply.error_name, reply.body) if reply.message_type == self._error_type
                else (None, reply.body) for reply in replies]

    async def _call_all(self, messages, window):
        limit = self._asyncio.Semaphore(window)

        async def call(message):
            async with limit:
                return await self._bus.call(message)

        return await self._asyncio.gather(*[call(message) for message in messages])

    def name_has_owner(self, name):
        error, body = self.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "NameHasOwner", "s", [name])
        return error is None and bool(body[0])

    def close(self):
        try:
            self._bus.disconnect()
            self._loop.run_until_complete(self._bus.wait_for_disconnect())
        except Exception:  # pylint: disable=broad-except
            pass  # the connection is going away either way
        self._close_loop()

    def _close_loop(self):
        self._asyncio.set_event_loop(None)
        self._loop.close()
