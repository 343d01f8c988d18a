# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one vocabulary of values that reach a command, a batch file, a config file or generated
JavaScript: strict checks by kind, applied where a value enters (module options, XML,
inventory, files read from a host).

Every check takes the value and the name of the field it came from, returns the value when it
is acceptable and otherwise raises :class:`InvalidValue`, whose message names the field and the
value (shown with ``%r``, so a newline or a hidden character is visible). Pure Python 3.8+, no
Ansible imports: the engines and the controller's filter plugins share it.
"""

import ipaddress
import posixpath
import re


class InvalidValue(ValueError):
    """A value refused by the vocabulary; ``field`` and ``value`` say which and what."""

    def __init__(self, field, value, reason):
        super(InvalidValue, self).__init__("%s: %s %s" % (field, _shown(value), reason))
        self.field = field
        self.value = value
        self.reason = reason


def _shown(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# Characters that end a line for some reader on the way: Python's str.splitlines(), JavaScript
# (U+2028, U+2029), config parsers. None of them has a place in a name or a word of a rule.
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def text(value, field, max_length=4096, allow_empty=False):
    """A string: no control character, no line break of any reader, bounded in length."""
    if not isinstance(value, str):
        raise InvalidValue(field, value, "is a %s, not a string" % _type_name(value))
    if not value and not allow_empty:
        raise InvalidValue(field, value, "is empty")
    if len(value) > max_length:
        raise InvalidValue(field, value, "is longer than %d characters" % max_length)
    if _CONTROL.search(value):
        raise InvalidValue(field, value, "contains a control character or a line break")
    return value


# By the plain type a value derives from: Ansible hands filters subclasses of list, dict and
# str (_AnsibleLazyTemplateList, ...) whose own names mean nothing to the playbook's author.
_KINDS = ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (bytes, "bytes"),
          (list, "list"), (tuple, "tuple"), (dict, "dict"))


def _type_name(value):
    if value is None:
        return "null"
    for kind, name in _KINDS:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _matching(pattern, what):
    compiled = re.compile(pattern)

    def check(value, field):
        if not isinstance(value, str):
            raise InvalidValue(field, value, "is a %s, not %s" % (_type_name(value), what))
        if not compiled.match(value):
            raise InvalidValue(field, value, "is not %s" % what)
        return value
    check.__doc__ = "A string that is %s." % what
    return check


# Linux takes up to 15 bytes, no "/", ":" or white space, never "." or "..". Stricter here:
# letters, digits and "_.-" only, so that a name means the same to iptables (where "+" is a
# wildcard), to nft (where "{};#" and quotes are syntax) and to libvirt.
interface = _matching(r"\A(?!\.\.?\Z)[A-Za-z0-9_.-]{1,15}\Z",
                      "an interface name (1-15 of A-Z a-z 0-9 _ . -, not . or ..)")

# iptables/ebtables user chains: up to 28 characters (29 with the NUL of the kernel's name),
# never starting with "-" (it would read as an option) or "!".
chain = _matching(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,27}\Z",
                  "a chain name (1-28 of A-Z a-z 0-9 _ . -, not starting with - or .)")

# nft identifiers (tables, chains, sets): nft's scanner takes a letter or "_" then letters,
# digits and "/\_." and "-"; stricter here: no "/" or "\".
nft_identifier = _matching(r"\A[A-Za-z_][A-Za-z0-9_.-]{0,63}\Z",
                           "an nft identifier (a letter or _, then up to 63 of A-Z a-z 0-9 _ . -)")

# libvirt object names used in paths and commands (domains, networks, filters, containers).
object_name = _matching(r"\A(?!\.\.?\Z)[A-Za-z0-9_][A-Za-z0-9_.+:-]{0,127}\Z",
                        "a name (1-128 of A-Z a-z 0-9 _ . + : -, not starting with . or -)")

# libvirt nwfilter variable names: [A-Za-z0-9_]+ (virNWFilterVarAccess).
nwfilter_variable = _matching(r"\A[A-Za-z_][A-Za-z0-9_]{0,127}\Z",
                              "a libvirt filter variable name (A-Z a-z 0-9 _)")

# What libvirt takes as a filter variable's value at all (virNWFilterVarValue): [A-Za-z0-9_.:].
_NWFILTER_VALUE = re.compile(r"\A[A-Za-z0-9_.:]{1,256}\Z")
_MAC = re.compile(r"\A[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\Z")


def mac_address(value, field):
    """A MAC address as libvirt writes it: six colon-separated hex pairs."""
    if not isinstance(value, str) or not _MAC.match(value):
        raise InvalidValue(field, value, "is not a MAC address (six hex pairs: 52:54:00:12:34:56)")
    return value


def ip_address(value, field, version=None):
    """An IPv4 or IPv6 address (no prefix); ``version`` 4 or 6 narrows it."""
    if not isinstance(value, str):
        raise InvalidValue(field, value, "is a %s, not an IP address" % _type_name(value))
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is None or (version is not None and address.version != version):
        raise InvalidValue(field, value, "is not an IPv%s address" % (version or "4 or 6"))
    return value


def port(value, field):
    """A TCP/UDP port, 0-65535, as an int or a decimal string."""
    text_value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text_value, str) or not re.match(r"\A[0-9]{1,5}\Z", text_value) \
            or int(text_value) > 65535:
        raise InvalidValue(field, value, "is not a port number (0-65535)")
    return text_value


def nwfilter_value(value, field, kind=None):
    """A libvirt filter variable's value. ``kind`` narrows it to what the variable is used as:
    ``ipv4``/``ipv6`` (an address, no prefix), ``mac``, ``port``, ``uint`` or None (only
    libvirt's own character set)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidValue(field, value, "is a %s, not a filter variable value"
                           % _type_name(value))
    value = str(value)
    if not _NWFILTER_VALUE.match(value):
        raise InvalidValue(field, value, "is not a libvirt filter variable value "
                                         "(1-256 of A-Z a-z 0-9 _ . :)")
    if kind == "ipv4":
        ip_address(value, field, 4)
    elif kind == "ipv6":
        ip_address(value, field, 6)
    elif kind == "mac":
        mac_address(value, field)
    elif kind == "port":
        port(value, field)
    elif kind == "uint" and not re.match(r"\A[0-9]+\Z", value):
        raise InvalidValue(field, value, "is not an unsigned number")
    return value


def absolute_path(value, field, max_length=4095):
    """An absolute, normalised path: no ``.``/``..`` component, no empty component, no control
    character; ``/`` alone is refused (nothing the collection writes or removes is ``/``)."""
    text(value, field, max_length)
    if not value.startswith("/"):
        raise InvalidValue(field, value, "is not an absolute path")
    if value == "/":
        raise InvalidValue(field, value, "is the root directory")
    parts = value[1:].split("/")
    if any(part in ("", ".", "..") for part in parts) or posixpath.normpath(value) != value:
        raise InvalidValue(field, value, "is not a normalised path (no //, . or .. and no "
                                         "trailing /)")
    return value


def path_component(value, field):
    """One file name: not empty, not ``.`` or ``..``, no ``/``, no control character."""
    text(value, field, 255)
    if value in (".", "..") or "/" in value:
        raise InvalidValue(field, value, "is not a file name (no /, not . or ..)")
    return value


def one_of(value, field, choices):
    if value not in choices:
        raise InvalidValue(field, value, "is not one of %s" % ", ".join(map(str, choices)))
    return value


_OUTSIDE_BMP = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")


def bmp_text(value, field, max_length=4096, allow_empty=False):
    """:func:`text` within the Basic Multilingual Plane: no character above U+FFFF and no lone
    surrogate. For values compared inside an engine that holds strings as UTF-16/CESU-8 units
    (polkit's duktape): a character outside the BMP reaches it from C as a different string
    than from a JavaScript literal, so a rule naming one would never match."""
    text(value, field, max_length, allow_empty)
    found = _OUTSIDE_BMP.search(value)
    if found:
        raise InvalidValue(field, value, "contains U+%04X, outside the Basic Multilingual Plane "
                                         "(or a lone surrogate)" % ord(found.group()))
    return value


_PORT_RANGE = re.compile(r"\A([0-9]{1,5})(?:-([0-9]{1,5}))?\Z")


def port_range(value, field):
    """A port (1-65535) or a range ``LOW-HIGH`` with LOW <= HIGH, as an int or a string;
    returned as a string."""
    text_value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    found = _PORT_RANGE.match(text_value) if isinstance(text_value, str) else None
    numbers = [int(part) for part in found.groups() if part is not None] if found else []
    if not numbers or not all(1 <= number <= 65535 for number in numbers) \
            or numbers[0] > numbers[-1]:
        raise InvalidValue(field, value, "is not a port or a port range (1-65535, LOW-HIGH)")
    return text_value


_PORT_PROTOCOLS = ("tcp", "udp", "sctp", "dccp")


def port_protocol(value, field):
    """A port or port range with its protocol: ``22/tcp``, ``49152-49215/udp`` (tcp, udp,
    sctp, dccp)."""
    if not isinstance(value, str) or value.count("/") != 1:
        raise InvalidValue(field, value, "is not PORT/PROTOCOL (22/tcp, 1000-2000/udp)")
    number, protocol = value.split("/")
    port_range(number, field)
    one_of(protocol, field, _PORT_PROTOCOLS)
    return value


# firewalld's names of zones, policies, services, ICMP types and protocols: letters, digits and
# "_+.-" (firewalld's own ADDITIONAL_ALNUM_CHARS are "_-/+" for some; "/" never here).
firewalld_name = _matching(r"\A[A-Za-z0-9_][A-Za-z0-9_+.-]{0,63}\Z",
                           "a firewalld name (1-64 of A-Z a-z 0-9 _ + . -, not starting with "
                           "+ . -)")


def firewalld_source(value, field):
    """A firewalld zone source: an IPv4/IPv6 address or network, a MAC address, or
    ``ipset:NAME``."""
    if isinstance(value, str) and value.startswith("ipset:"):
        firewalld_name(value[len("ipset:"):], field)
        return value
    if isinstance(value, str) and _MAC.match(value):
        return value
    try:
        if not isinstance(value, str):
            raise TypeError(value)
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        raise InvalidValue(field, value, "is not an address, a network, a MAC address or "
                                         "ipset:NAME")
    return value
