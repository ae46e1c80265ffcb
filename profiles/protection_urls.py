"""The public victim-protection page (mounted at /safety/request/)."""

from django.urls import path

from profiles import protection_views as views

app_name = "protection"
urlpatterns = [
    path("", views.protection_request, name="request"),
    path("sent/", views.protection_request_sent, name="sent"),
]
