"""Raw Ethernet frames for behaviour tests, run inside a network namespace:

    python frames.py send IFACE SRC_MAC SRC_IP TAG COUNT
    python frames.py receive IFACE SECONDS     (prints {"TAG": count, ...} as JSON)

Frames are IPv4/UDP broadcasts whose payload is the tag, so a receiver can count who got through.
"""

import json
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def checksum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(src_mac, src_ip, tag):
    payload = b"VKT:" + tag.encode()
    udp = struct.pack("!HHHH", 40000, 40001, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                         socket.inet_aton(src_ip), socket.inet_aton("10.0.0.255"))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    mac = bytes(int(part, 16) for part in src_mac.split(":"))
    return b"\xff" * 6 + mac + b"\x08\x00" + header + udp


def send(interface, src_mac, src_ip, tag, count):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((interface, 0))
    for _frame in range(int(count)):
        sock.send(frame(src_mac, src_ip, tag))
        time.sleep(0.01)


def receive(interface, seconds):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((interface, 0))
    sock.settimeout(0.1)
    counts = {}
    print("ready", flush=True)
    deadline = time.time() + float(seconds)
    while time.time() < deadline:
        try:
            data = sock.recv(2048)
        except socket.timeout:
            continue
        marker = data.find(b"VKT:")
        if marker >= 0:
            tag = data[marker + 4:].decode(errors="replace")
            counts[tag] = counts.get(tag, 0) + 1
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    {"send": send, "receive": receive}[sys.argv[1]](*sys.argv[2:])
