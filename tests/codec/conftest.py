"""Shared codec fixtures: one tiny random-weight SONAR codec per session; a network guard."""

import sys

import pytest

from tests.codec.tiny_sonar import build_tiny_sonar

NETWORK_EVENTS = ("socket.connect", "socket.getaddrinfo", "urllib.Request")
_network_blocked: list[bool] = []


def _refuse_network(event: str, args: tuple) -> None:
    if _network_blocked and event in NETWORK_EVENTS:
        raise RuntimeError(f"network access attempted: {event} {args[:2]}")


sys.addaudithook(_refuse_network)  # audit hooks cannot be removed: it checks a flag


@pytest.fixture
def no_network():
    """Any connection or host-name lookup inside the test raises RuntimeError."""
    _network_blocked.append(True)
    yield
    _network_blocked.pop()


@pytest.fixture(scope="session")
def tiny_sonar(tmp_path_factory):
    return build_tiny_sonar(tmp_path_factory.mktemp("tiny_sonar"))
