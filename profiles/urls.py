"""Public directory URLs (mounted at /inmates/)."""

from django.urls import path  # noqa: F401

app_name = "directory"
urlpatterns: list = []
