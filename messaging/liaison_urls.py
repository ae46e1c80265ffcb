"""The facility side of letters, under /liaison/letters/ (MFA required)."""

from django.urls import path

from messaging import intake_views, return_views
from messaging import liaison_views as views

app_name = "liaison_letters"

urlpatterns = [
    path("<slug:facility_slug>/queue/", views.print_queue, name="queue"),
    path("<slug:facility_slug>/batches/", views.batch_list, name="batch_list"),
    path("<slug:facility_slug>/batches/<int:batch_id>/", views.batch_detail, name="batch_detail"),
    path(
        "<slug:facility_slug>/batches/<int:batch_id>/print/", views.batch_print, name="batch_print"
    ),
    path("<slug:facility_slug>/batches/<int:batch_id>/pdf/", views.batch_pdf, name="batch_pdf"),
    path(
        "<slug:facility_slug>/batches/<int:batch_id>/pdf/status/",
        views.batch_pdf_status,
        name="batch_pdf_status",
    ),
    path(
        "<slug:facility_slug>/batches/<int:batch_id>/delivered/",
        views.batch_delivered,
        name="batch_delivered",
    ),
    path("<slug:facility_slug>/replies/", views.reply_list, name="reply_list"),
    path("<slug:facility_slug>/replies/new/", views.reply_upload, name="reply_upload"),
    # Whole scanning runs and the triage of their pages (messaging.intake_views).
    path("<slug:facility_slug>/scan-runs/", intake_views.scan_runs, name="scan_runs"),
    path("<slug:facility_slug>/scan-runs/<int:run_id>/", intake_views.scan_run, name="scan_run"),
    path(
        "<slug:facility_slug>/scan-runs/<int:run_id>/status/",
        intake_views.scan_run_status,
        name="scan_run_status",
    ),
    path("<slug:facility_slug>/triage/", intake_views.triage, name="triage"),
    path(
        "<slug:facility_slug>/triage/<int:page_id>/",
        intake_views.triage_page,
        name="triage_page",
    ),
    path(
        "<slug:facility_slug>/scan-pages/<int:page_id>/image/",
        intake_views.scan_page_image,
        name="scan_page_image",
    ),
    # Returned letters (messaging.return_views).
    path(
        "<slug:facility_slug>/letters/<int:letter_id>/return/",
        return_views.letter_return,
        name="letter_return",
    ),
    path("<slug:facility_slug>/returns/", return_views.return_find, name="return_find"),
    path(
        "<slug:facility_slug>/returns/<int:correspondence_id>/",
        return_views.return_choose,
        name="return_choose",
    ),
]
