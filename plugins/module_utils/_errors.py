# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors raised by the firewall engine."""


class FirewallError(Exception):
    """A firewall operation failed.

    ``command`` is the :class:`Command` that failed (``None`` for bad input caught before anything
    ran), ``status`` its exit status, ``stderr`` what the tool printed, ``dbus_error`` the DBus
    error name when firewalld refused it.  ``commands`` lists every command the failed ``apply()``
    ran, rollback included, so that callers can report what happened.
    """

    def __init__(self, message, command=None, status=None, stderr=None, dbus_error=None):
        super(FirewallError, self).__init__(message)
        self.message = message
        self.command = command
        self.status = status
        self.stderr = stderr
        self.dbus_error = dbus_error
        self.commands = []
        self.undo_failed = []  # undo rules of the rollback that failed: the host was changed

    def __str__(self):
        return self.message


class FirewallUnavailableError(FirewallError):
    """The firewall cannot be reached at all: a missing tool, firewalld not running.

    Unlike a rule the tool rejects, this is never covered by ``ignore_errors``.
    """


class MissingLibraryError(FirewallUnavailableError):
    """A Python library the chosen backend needs is not installed on this host."""

    def __init__(self, library, user):
        super(MissingLibraryError, self).__init__(
            "%s needs the Python library %s, which is not installed on this host"
            % (user, library))
        self.library = library
