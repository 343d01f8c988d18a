# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtkit.host.firewalld: runs the module, then confirms over a new connection a change armed with
confirm_timeout (see plugin_utils/_confirmed_change.py)."""

from ansible_collections.virtkit.host.plugins.plugin_utils._confirmed_change import (  # noqa: F401  pylint: disable=unused-import
    ConfirmedChangeAction as ActionModule,
)
