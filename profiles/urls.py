"""Public directory URLs (mounted at /inmates/)."""

from django.urls import path

from profiles import views

app_name = "directory"
urlpatterns = [
    path("", views.directory_list, name="list"),
    # Before <slug>/: profile slugs always end in "-<hex>", so none is "saved".
    path("saved/", views.saved, name="saved"),
    path("<slug:slug>/", views.profile, name="profile"),
    path("<slug:slug>/favorite/", views.favorite, name="favorite"),
    path("<slug:slug>/report/", views.report, name="report"),
]
