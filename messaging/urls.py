"""The pen pal's letters (mounted at /letters/)."""

from django.urls import path

from messaging import views

app_name = "letters"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("write/<slug:slug>/", views.write, name="write"),
    path("<int:pk>/", views.thread, name="thread"),
    path("<int:pk>/block/", views.block, name="block"),
    path("<int:pk>/unblock/", views.unblock, name="unblock"),
    path("letter/<int:pk>/report/", views.report, name="report"),
    path("scan/<int:pk>/", views.scan, name="scan"),
]
