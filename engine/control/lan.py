"""Which address the tablet remote serves on: an address of this machine, or an interface's.

The remote is for a tablet on the clinician's own network, so a wildcard address (every
interface at once) and a public address (reachable from the internet) are refused, whatever the
firewall says.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys

from engine.errors import ConfigError

_SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address


def lan_address(text: str) -> str:
    """``"192.168.1.20"`` or ``"wlan0"`` → the address to bind to; ConfigError in plain words."""
    text = text.strip()
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        address = ipaddress.ip_address(interface_address(text))
    if address.is_unspecified:
        raise ConfigError(f"control_lan {text!r} means every interface at once; give the one "
                          "the tablet is on (an address or an interface name such as wlan0)")
    if address.is_multicast or (address.version == 6 and address.is_link_local):
        raise ConfigError(f"control_lan {text!r} cannot be served on; give this machine's "
                          "IPv4 address on the tablet's network")
    if address.is_global:
        raise ConfigError(f"control_lan {text!r} is a public internet address; the tablet "
                          "remote serves only on a private network (192.168.x.x, 10.x.x.x, "
                          "172.16–31.x.x)")
    return str(address)


def interface_address(name: str) -> str:
    """The IPv4 address of the network interface ``name`` (Linux)."""
    names = [entry[1] for entry in socket.if_nameindex()]
    if name not in names:
        raise ConfigError(f"control_lan {name!r} is neither an address nor a network interface; "
                          f"interfaces: {', '.join(names)}")
    if not sys.platform.startswith("linux"):
        raise ConfigError(f"control_lan {name!r}: give the interface's address here, "
                          "e.g. 192.168.1.20")
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR,
                                 struct.pack("256s", name.encode()[:15]))
        except OSError:
            raise ConfigError(f"network interface {name!r} has no IPv4 address (is it "
                              "connected?)") from None
    return socket.inet_ntoa(answer[20:24])
