"""The liaison portal's no-contact orders (mounted at /liaison/safety/; MFA
required by penpals.middleware). Every view resolves the profile through
profiles.access, so another facility's profile is a 404."""

from django.urls import path

from profiles import no_contact_views as views

app_name = "liaison_safety"
urlpatterns = [
    path(
        "profiles/<int:profile_id>/no-contact/", views.no_contact_orders, name="no_contact_orders"
    ),
]
