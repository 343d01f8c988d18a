# Copyright: (c) 2026, virtkit.host contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attribute values of nwfilter rules: parsing literals as libvirt does and printing them as its
ebiptables driver does. A value that comes from a variable is printed as given."""

import ipaddress
import re
import socket

from ansible_collections.virtkit.host.plugins.module_utils._nwfilter.definition import (
    FilterDefinitionError,
)

_MAC = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")
ETHER_NAMES = {"arp": 0x0806, "rarp": 0x8035, "ipv4": 0x0800, "ipv6": 0x86dd, "vlan": 0x8100}
IP_PROTOCOL_NAMES = {"tcp": 6, "udp": 17, "udplite": 136, "esp": 50, "ah": 51, "icmp": 1,
                     "igmp": 2, "sctp": 132, "icmpv6": 58}
ARP_OPCODES = {"request": 1, "reply": 2, "request_reverse": 3, "reply_reverse": 4,
               "drarp_request": 5, "drarp_reply": 6, "drarp_error": 7, "inarp_request": 8,
               "arp_nak": 9}
STATES = ("NEW", "ESTABLISHED", "RELATED", "INVALID")
TCP_FLAGS = ("FIN", "SYN", "RST", "PSH", "ACK", "URG")


def number(text, bits, where):
    """libvirt's integer parsing: decimal, else hexadecimal (with or without 0x)."""
    text = text.strip()
    for base in (10, 16):
        try:
            value = int(text, base)
        except ValueError:
            continue
        if 0 <= value < (1 << bits):
            return value
        break
    raise FilterDefinitionError("%s: %r is not a %d-bit number" % (where, text, bits))


def mac(text, where):
    if not _MAC.match(text.strip()):
        raise FilterDefinitionError("%s: %r is not a MAC address" % (where, text))
    return ":".join("%02x" % int(group, 16) for group in text.strip().split(":"))


def ipv4(text, where):
    try:
        return str(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        raise FilterDefinitionError("%s: %r is not an IPv4 address" % (where, text))


def ipv6(text, where):
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text.strip()))
    except (OSError, ValueError):
        raise FilterDefinitionError("%s: %r is not an IPv6 address" % (where, text))


def prefix(text, family, where):
    """A mask given as a length or in address form, as a prefix length."""
    text = text.strip()
    limit = 32 if family == 4 else 128
    if text.isdigit():
        length = int(text)
        if length <= limit:
            return length
    else:
        try:
            packed = int(ipaddress.ip_address(text))
        except ValueError:
            packed = None
        if packed is not None:
            bits = bin(packed)[2:].zfill(limit)
            if len(bits) == limit and "01" not in bits:
                return bits.count("1")
    raise FilterDefinitionError("%s: %r is not an IPv%d mask" % (where, text, family))


def named_number(text, names, bits, where):
    key = text.strip().lower()
    if key in names:
        return names[key]
    return number(text, bits, where)


def states(text, where):
    words = [word.upper() for word in re.split(r"[,\s]+", text.strip()) if word]
    for word in words:
        if word not in STATES + ("NONE",):
            raise FilterDefinitionError("%s: state %r is not one of %s, NONE"
                                        % (where, word, ", ".join(STATES)))
    if "NONE" in words:
        return "NONE"
    return ",".join(state for state in STATES if state in words)


def tcp_flags(text, where):
    """``MASK/COMP`` as the two words --tcp-flags takes."""
    if "/" not in text:
        raise FilterDefinitionError("%s: tcp flags %r are not MASK/COMP" % (where, text))
    return tuple(_flag_set(part, where) for part in text.split("/", 1))


def _flag_set(text, where):
    words = [word.upper() for word in text.split(",") if word.strip()]
    bits = set()
    for word in words:
        if word == "ALL":
            bits.update(TCP_FLAGS)
        elif word == "NONE":
            continue
        elif word in TCP_FLAGS:
            bits.add(word)
        else:
            raise FilterDefinitionError("%s: tcp flag %r is not one of %s, ALL, NONE"
                                        % (where, word, ", ".join(TCP_FLAGS)))
    if not bits:
        return "NONE"
    if len(bits) == len(TCP_FLAGS):
        return "ALL"
    return ",".join(flag for flag in TCP_FLAGS if flag in bits)
