from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.static import serve

from penpals import metrics, views

# The admin login goes through allauth, so its rate limits and MFA apply.
# Replacing the bound method is allauth's documented way; mypy forbids it.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = _("Penpals staff")
admin.site.site_title = _("Penpals staff")

handler400 = views.bad_request
handler500 = views.server_error

urlpatterns = [
    path("", views.page("pages/home.html"), name="home"),
    path("about/", views.page("pages/about.html"), name="about"),
    path("safety/", views.page("pages/safety.html"), name="safety"),
    path("safety/request/", include("profiles.protection_urls")),
    path("privacy/", views.page("pages/privacy.html"), name="privacy"),
    path("terms/", views.page("pages/terms.html"), name="terms"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # Django's set_language (POST, from the switcher in base.html): sets the
    # language cookie; penpals.middleware saves a signed-in person's choice.
    path("i18n/", include("django.conf.urls.i18n")),
    path("account/settings/", views.account_settings, name="account_settings"),
    path("account/export/", views.export_data, name="account_export"),
    path("account/export/prepare/", views.prepare_export, name="account_export_prepare"),
    path("account/continue/", views.continue_after_setup, name="account_continue"),
    # Beside allauth's pages (mounted at /accounts/), before its include.
    path(
        "accounts/resend-verification/",
        views.resend_verification,
        name="account_resend_verification",
    ),
    path("account/delete/", views.delete_account, name="account_delete"),
    path("inmates/", include("profiles.urls")),
    path("letters/", include("messaging.urls")),
    path("liaison/letters/", include("messaging.liaison_urls")),
    path("liaison/safety/", include("profiles.no_contact_urls")),
    path("liaison/", include("profiles.liaison_urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

if settings.SERVE_LOCAL_MEDIA:
    # Public media only (processed photos); private files have no URL here.
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]
