"""Liaison portal URLs (mounted at /liaison/; MFA required by penpals.middleware).

Pages about one facility carry its slug; pages about one profile or photo
carry its id, and the view finds the facility through it. Every new pattern
must be added to tests/profiles/test_liaison_boundary.py, which fails otherwise.
"""

from django.urls import path

from profiles import liaison_views as views

app_name = "liaison"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    # One profile (fixed prefixes first: they must win over a facility slug).
    path("profiles/<int:profile_id>/", views.profile_detail, name="profile_detail"),
    path("profiles/<int:profile_id>/edit/", views.profile_edit, name="profile_edit"),
    path("profiles/<int:profile_id>/submit/", views.profile_submit, name="profile_submit"),
    path("profiles/<int:profile_id>/status/", views.lifecycle, name="lifecycle"),
    path("profiles/<int:profile_id>/consent/", views.consent_upload, name="consent_upload"),
    path(
        "profiles/<int:profile_id>/consent/download/",
        views.consent_download,
        name="consent_download",
    ),
    path("profiles/<int:profile_id>/photos/", views.photo_upload, name="photo_upload"),
    # One photo.
    path("photos/<int:photo_id>/primary/", views.photo_primary, name="photo_primary"),
    path("photos/<int:photo_id>/delete/", views.photo_delete, name="photo_delete"),
    path("photos/<int:photo_id>/original/", views.photo_original, name="photo_original"),
    # One facility.
    path("<slug:facility_slug>/", views.facility_dashboard, name="facility_dashboard"),
    path("<slug:facility_slug>/profiles/", views.profile_list, name="profile_list"),
    path("<slug:facility_slug>/profiles/new/", views.profile_create, name="profile_create"),
    path("<slug:facility_slug>/import/", views.csv_import_page, name="csv_import"),
    path("<slug:facility_slug>/import/template.csv", views.csv_template, name="csv_template"),
    path("<slug:facility_slug>/activity/", views.activity, name="activity"),
]
