# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall transaction engine: the collection's public Python API.

Only the names imported here are public (semantic versioning applies to them); every module
whose name starts with ``_`` is private and may change in any release. See
docs/architecture.md for the semantics.

    from ansible_collections.virtkit.host.plugins.module_utils.firewall import Firewall
"""

from ansible_collections.virtkit.host.plugins.module_utils._errors import (  # noqa: F401
    FirewallError,
    FirewallUnavailableError,
    MissingLibraryError,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._model import (  # noqa: F401
    LAYER_ETHERNET,
    LAYER_IPV4,
    LAYER_IPV6,
    LAYERS,
    Command,
)
from ansible_collections.virtkit.host.plugins.module_utils.firewall._transaction import (  # noqa: F401
    BACKENDS,
    Firewall,
)

__all__ = ["BACKENDS", "Command", "Firewall", "FirewallError", "FirewallUnavailableError",
           "LAYERS", "LAYER_ETHERNET", "LAYER_IPV4", "LAYER_IPV6", "MissingLibraryError"]
