"""Where the service listens, read the way the settings read everything: the environment first,
then `.env`. gunicorn.conf.py binds there and `make run` announces it and checks it first:

    python -m central_logger.listen --check     exit 1 at once, with one line, if the port is taken
    python -m central_logger.listen --url       print the URL clients use

BIND (e.g. `0.0.0.0:8000`, `unix:/run/cl.sock`) wins over HOST (default 127.0.0.1) and PORT
(default 8000). Standard library only: gunicorn's config file imports this before Django.
"""
from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = BASE_DIR / ".env"


def configured(name: str, default: str = "") -> str:
    """NAME from the environment, else from `.env` (as the settings read it); else `default`."""
    value = os.environ.get(name)
    if value is not None:
        return value.strip()
    env_file = ENV_FILE
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, raw = line.partition("=")
            if sep and key.strip() == name:
                return raw.strip().strip("'\"")
    return default


def bind() -> str:
    return configured("BIND") or f"{configured('HOST') or '127.0.0.1'}:{configured('PORT') or '8000'}"


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a TCP address; None for a unix socket or an address without a port."""
    if address.startswith(("unix:", "fd://")):
        return None
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "0.0.0.0", int(port)


def url() -> str:
    """The URL a client on this machine uses (a wildcard address is reached via the loopback)."""
    address = bind()
    tcp = _host_port(address)
    if tcp is None:
        return address
    host, port = tcp
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)
    return f"http://{host}:{port}"


def port_taken() -> str | None:
    """Why the service cannot listen where it is configured to (one line), or None."""
    tcp = _host_port(bind())
    if tcp is None:
        return None
    host, port = tcp
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"Port {port} on {host} is already in use (another `make run`, or another service): "
                        f"stop it, or choose a free port: make run PORT={port + 1} (or PORT={port + 1} in .env).")
            return f"Cannot listen on {host}:{port}: {exc.strerror or exc} (set HOST and PORT, or BIND)."
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail at once if the address is taken")
    parser.add_argument("--url", action="store_true", help="print the URL clients use")
    args = parser.parse_args(argv)
    if args.check and (problem := port_taken()):
        print(problem, file=sys.stderr)
        return 1
    if args.url:
        print(url())
    return 0


if __name__ == "__main__":
    sys.exit(main())
