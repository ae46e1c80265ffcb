"""Liaison portal URLs (mounted at /liaison/; MFA required by penpals.middleware)."""

from django.urls import path  # noqa: F401

app_name = "liaison"
urlpatterns: list = []
