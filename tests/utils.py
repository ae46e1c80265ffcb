"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import socket


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """DATABASE_URL for a process that must use this test process's database."""
    db = settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def task_sends(on_commit_callbacks: list) -> list:
    """The on-commit callbacks that send a task: without the public page
    cache's new generation (profiles.public_cache), which any write to a
    profile or photo also schedules."""
    from profiles.public_cache import new_generation

    return [callback for callback in on_commit_callbacks if callback is not new_generation]
