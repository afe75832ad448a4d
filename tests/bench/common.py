"""Helpers the benchmark scripts share (run.py, subs.py)."""

import socket
import sys


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
