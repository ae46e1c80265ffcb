"""The facility side of letters, under /liaison/letters/ (MFA required)."""

from django.urls import path

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
]
