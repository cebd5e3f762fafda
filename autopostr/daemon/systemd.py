"""systemd's notify protocol (Type=notify): one datagram per message to $NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send READY=1, STATUS=…, WATCHDOG=1 or STOPPING=1; False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
        return True
    except OSError:
        return False


def watchdog_interval() -> float | None:
    """Half of WatchdogSec when systemd asked for pings, else None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1_000_000 / 2
    except ValueError:
        return None


def unit_file(executable: str, user: bool, environment_file: str | None = None) -> str:
    """A unit that passes `systemd-analyze verify`: notify, watchdog, mixed kill, credentials."""
    lines = [
        "[Unit]",
        "Description=autopostr publishing daemon",
        "Documentation=https://pypi.org/project/autopostr/",
        "After=network-online.target postgresql.service",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={executable} daemon run",
        "Restart=on-failure",
        "RestartSec=5",
        "WatchdogSec=60",
        "TimeoutStopSec=90",
        "KillMode=mixed",
        "KillSignal=SIGTERM",
    ]
    if environment_file:
        lines.append(f"EnvironmentFile=-{environment_file}")
    if user:
        lines += ["", "[Install]", "WantedBy=default.target"]
    else:
        lines += [
            "DynamicUser=yes",
            "StateDirectory=autopostr",
            "Environment=AUTOPOSTR_HOME=/var/lib/autopostr",
            "# Put the key in /etc/autopostr/encryption-key (0600, root) or use systemd-creds:",
            "LoadCredential=autopostr-encryption-key:/etc/autopostr/encryption-key",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "NoNewPrivileges=yes",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
        ]
    return "\n".join(lines) + "\n"
