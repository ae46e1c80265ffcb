"""The error pages: a database that cannot be reached gets "back in a moment"."""

import pytest
from django.db import OperationalError

from penpals import health


@pytest.fixture
def failing_client(client):
    client.raise_request_exception = False
    return client


def test_an_unreachable_database_gets_a_503_that_says_try_again(failing_client, monkeypatch):
    def database_gone(**kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(health, "run_checks", database_gone)
    response = failing_client.get("/healthz")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    html = response.content.decode()
    assert "Penpals is back in a moment" in html
    assert "it will not arrive twice" in html
    assert "Connection refused" not in html  # no internals


def test_any_other_error_gets_the_500_page(failing_client, monkeypatch):
    def broken(**kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(health, "run_checks", broken)
    response = failing_client.get("/healthz")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert "Sorry, something went wrong on our side" in response.content.decode()
