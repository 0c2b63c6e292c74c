"""Shared codec fixtures: one tiny random-weight SONAR codec per test session."""

import pytest

from tests.codec.tiny_sonar import build_tiny_sonar


@pytest.fixture(scope="session")
def tiny_sonar(tmp_path_factory):
    return build_tiny_sonar(tmp_path_factory.mktemp("tiny_sonar"))
