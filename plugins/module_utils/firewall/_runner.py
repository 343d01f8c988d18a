# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running tools as processes: argv lists only, never a shell. The firewall engine's and the
container bootstrapper's one runner."""

import os
import subprocess

from ansible_collections.virtkit.host.plugins.module_utils._errors import (
    FirewallUnavailableError,
)

# Ansible's module environment and cron jobs often lack the sbin directories.
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin")


def _search_path():
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    return dirs + [d for d in _SBIN_DIRS if d not in dirs]


def _describe(search_path):
    return "searched " + (":".join(search_path) if search_path is not None
                          else "PATH and " + ":".join(_SBIN_DIRS))


class ProcessRunner(object):
    """Runs a tool by name and returns ``(status, stdout, stderr)``.

    Tool paths are resolved once per runner. Messages are forced to the C locale so that the
    errors the engine reports read the same on every host.
    """

    dry_run = False

    def __init__(self, env=None, search_path=None):
        self._paths = {}
        self._env = dict(os.environ if env is None else env, LC_ALL="C")
        self._search_path = search_path

    def which(self, tool):
        """The absolute path of ``tool``, or ``None`` when it is not installed."""
        try:
            return self._paths[tool]
        except KeyError:
            pass
        found = None
        for directory in self._search_path or _search_path():
            candidate = os.path.join(directory, tool)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                found = candidate
                break
        self._paths[tool] = found
        return found

    def run(self, argv, stdin_text=None, merge_output=False):
        """``merge_output``: stderr goes with stdout, in the order the tool wrote them (the
        returned stderr is then empty)."""
        path = self.which(argv[0])
        if path is None:
            raise FirewallUnavailableError("%s: command not found (%s)"
                                           % (argv[0], _describe(self._search_path)))
        proc = subprocess.Popen(
            [path] + list(argv[1:]),
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
            env=self._env, close_fds=True, universal_newlines=True)
        out, err = proc.communicate(stdin_text)
        return proc.returncode, out, err or ""

    def probe(self, argv):
        """Run a read-only command even in dry-run mode; a missing tool gives status 127."""
        try:
            return self.run(argv)
        except FirewallUnavailableError:
            return 127, "", ""


class DryRunRunner(object):
    """Runs nothing: every command succeeds with no output. Used for check mode."""

    dry_run = True

    def __init__(self, installed=None):
        self._real = ProcessRunner()
        self._installed = installed

    def which(self, tool):
        if self._installed is not None:
            return "/dry-run/" + tool if tool in self._installed else None
        return self._real.which(tool)

    def run(self, argv, stdin_text=None):  # pylint: disable=unused-argument
        return 0, "", ""

    def probe(self, argv):
        if self.which(argv[0]) is None:
            return 127, "", ""
        return self._real.probe(argv)
