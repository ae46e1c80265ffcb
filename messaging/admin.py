"""Letters in the staff admin: read-only records, uploading replies that
arrive at the service by post, and recording letters a facility returned.

Nothing here changes a letter: statuses move only through messaging.services
and messaging.returns (moderators decide letters in the moderation queue),
and a letter's text is
never editable, so what a pen pal or a person in prison wrote stays as written.
Staff see who wrote to whom and each letter's state; the list pages load their
related rows in the same query (list_select_related).
"""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from messaging import returns
from messaging.admin_scans import ReplyScanViews
from messaging.intake import check_upload_run
from messaging.intake_views import read_run_upload
from messaging.liaison_forms import ReplyUploadForm, ReturnForm, ScanRunForm
from messaging.models import (
    Correspondence,
    Letter,
    LetterScan,
    Notification,
    PrintBatch,
    ScanPage,
    ScanRun,
    ScanRunFile,
    normalise_code,
)
from messaging.replies import check_upload_reply
from penpals.admin_privacy import PrivateFieldsMixin, declare_private_fields
from penpals.models import User
from profiles.models import Facility

# A scan's stored path is for the access-checked scan view only.
declare_private_fields(LetterScan, "file")


class ReadOnlyAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    """A record staff may look at (with the view permission) but never change here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Correspondence)
class CorrespondenceAdmin(ReadOnlyAdmin):
    list_display = [
        "code",
        "pen_pal_name",
        "profile",
        "facility",
        "state_label",
        "created_at",
        "last_letter_at",
    ]
    list_filter = ["profile__facility"]
    list_select_related = ["pen_pal", "profile__facility"]
    search_fields = ["code"]
    fields = readonly_fields = (
        "code",
        "pen_pal",
        "profile",
        "state_label",
        "blocked_by_pen_pal_at",
        "blocked_by_inmate_at",
        "closed_at",
        "close_reason",
        "created_at",
        "last_letter_at",
    )

    @admin.display(description=_("Pen pal"), ordering="pen_pal__display_name")
    def pen_pal_name(self, correspondence: Correspondence) -> str:
        return correspondence.pen_pal.display_name

    @admin.display(description=_("Facility"), ordering="profile__facility__name")
    def facility(self, correspondence: Correspondence) -> str:
        return correspondence.profile.facility.name

    @admin.display(description=_("State"))
    def state_label(self, correspondence: Correspondence) -> str:
        return correspondence.state_label

    def get_search_results(self, request, queryset, search_term):
        # A code typed as on paper ("pp 7k3m 9qx2") finds its correspondence.
        if code := normalise_code(search_term):
            return queryset.filter(code=code), False
        return super().get_search_results(request, queryset, search_term)


class LetterScanInline(PrivateFieldsMixin, admin.TabularInline):
    model = LetterScan
    extra = 0
    can_delete = False
    fields = readonly_fields = ("page", "content_type", "size", "created_at", "open_link")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("Scan"))
    def open_link(self, scan: LetterScan) -> str:
        if not scan.file:
            return ngettext(
                "Deleted after %(days)s day (retention schedule)",
                "Deleted after %(days)s days (retention schedule)",
                settings.LETTER_SCAN_RETENTION_DAYS,
            ) % {"days": settings.LETTER_SCAN_RETENTION_DAYS}
        # Served by the access-checked scan view; private files have no URL of their own.
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            reverse("letters:scan", args=[scan.pk]),
            pgettext("link to a scanned page", "Open"),
        )


@admin.register(Letter)
class LetterAdmin(ReplyScanViews, ReadOnlyAdmin):
    list_display = ["__str__", "direction", "status_and_reason", "code", "facility", "created_at"]
    list_filter = ["direction", "status", "return_reason", "correspondence__profile__facility"]
    list_select_related = ["correspondence__profile__facility"]
    search_fields = ["correspondence__code"]
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "correspondence",
        "direction",
        "status",
        "body",
        "created_by",
        "screening",
        "rejection_reason",
        "rejection_note",
        "print_batch",
        "created_at",
        "screened_at",
        "approved_at",
        "rejected_at",
        "printed_at",
        "delivered_at",
        "read_at",
        "returned_at",
        "return_reason",
        "return_note",
        "returned_by",
    )
    inlines = [LetterScanInline]
    change_list_template = "messaging/admin/letter_change_list.html"
    change_form_template = "messaging/admin/letter_change_form.html"

    @admin.display(description=_("Status"), ordering="status")
    def status_and_reason(self, letter: Letter) -> str:
        if letter.status == Letter.Status.RETURNED and letter.return_reason:
            # Translators: a letter's status, then why the facility returned it.
            return gettext("%(status)s: %(reason)s") % {
                "status": letter.get_status_display(),
                "reason": letter.get_return_reason_display(),
            }
        return letter.get_status_display()

    @admin.display(description=_("Reply reference"), ordering="correspondence__code")
    def code(self, letter: Letter) -> str:
        return letter.correspondence.code

    @admin.display(description=_("Facility"), ordering="correspondence__profile__facility__name")
    def facility(self, letter: Letter) -> str:
        return letter.correspondence.profile.facility.name

    def get_search_results(self, request, queryset, search_term):
        if code := normalise_code(search_term):
            return queryset.filter(correspondence__code=code), False
        return super().get_search_results(request, queryset, search_term)

    def get_urls(self):
        # Before the default URLs: their "<path:object_id>/" would catch this one.
        upload = path(
            "upload-postal-reply/",
            self.admin_site.admin_view(self.upload_postal_reply_view),
            name="messaging_letter_upload_postal_reply",
        )
        record_return = path(
            "<path:object_id>/record-return/",
            self.admin_site.admin_view(self.record_return_view),
            name="messaging_letter_record_return",
        )
        return [upload, record_return, *super().get_urls()]

    def has_upload_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.has_perm("messaging.add_letter")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_upload": self.has_upload_permission(request)}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The "Record a return" button, for a printed or delivered letter and
        # staff who may record one (messaging.returns).
        letter = self.get_object(request, object_id)
        can_record_return = (
            letter is not None
            and letter.status in returns.RETURNABLE_STATUSES
            and returns.may_record_return(cast(User, request.user), letter)
        )
        extra_context = {**(extra_context or {}), "can_record_return": can_record_return}
        return super().change_view(request, object_id, form_url, extra_context)

    def record_return_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A letter the facility sent back, recorded by staff (for example
        when it came back to the service by post), as a liaison would."""
        letter = self.get_object(request, object_id)
        if letter is None:
            raise Http404
        # An account: admin_view lets only active staff in.
        staff = cast(User, request.user)
        if not returns.may_record_return(staff, letter):
            raise PermissionDenied
        change_url = reverse("admin:messaging_letter_change", args=[letter.pk])
        if letter.status not in returns.RETURNABLE_STATUSES:
            refusal = returns.return_refusal(letter) or gettext(
                "This letter was already recorded as returned; nothing changed."
            )
            self.message_user(request, refusal, messages.WARNING)
            return redirect(change_url)
        form = ReturnForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                recorded = returns.check_record_return(
                    staff, letter, form.cleaned_data["reason"], form.cleaned_data["note"]
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if recorded:
                    self.message_user(
                        request,
                        gettext("Return recorded; the pen pal is told by email."),
                        messages.SUCCESS,
                    )
                else:
                    self.message_user(
                        request,
                        gettext("This letter was already recorded as returned; nothing changed."),
                        messages.INFO,
                    )
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": letter,
            "title": gettext("Record a returned letter"),
            "form": form,
        }
        return TemplateResponse(request, "messaging/admin/record_return.html", context)

    def upload_postal_reply_view(self, request: HttpRequest) -> HttpResponse:
        """A reply that reached the service by post: find its correspondence by
        the reference written on it, upload the scans, as a liaison would."""
        if not self.has_upload_permission(request):
            raise PermissionDenied
        form = ReplyUploadForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
            correspondences=Correspondence.objects.select_related("profile__facility", "pen_pal"),
        )
        if request.method == "POST" and form.is_valid():
            correspondence = form.cleaned_data["correspondence"]
            # An account: admin_view lets only active staff in, and the
            # upload permission was checked above.
            staff = cast(User, request.user)
            try:
                letter = check_upload_reply(
                    staff,
                    correspondence,
                    form.cleaned_data["scans"],
                    form.cleaned_data["transcription"],
                    form.cleaned_data["idempotency_key"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(
                    request,
                    gettext(
                        "Reply for %(code)s uploaded; it is in the moderation queue once screened."
                    )
                    % {"code": correspondence.code},
                    messages.SUCCESS,
                )
                return redirect("admin:messaging_letter_change", letter.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Upload a reply that came by post"),
            "form": form,
        }
        return TemplateResponse(request, "messaging/admin/upload_postal_reply.html", context)


@admin.register(PrintBatch)
class PrintBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "facility",
        "created_by",
        "created_at",
        "letter_count",
        "delivered_at",
    ]
    list_filter = ["facility"]
    list_select_related = ["facility", "created_by"]
    fields = readonly_fields = (
        "facility",
        "created_by",
        "created_at",
        "delivered_at",
        "delivered_by",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(letter_count=Count("letters"))

    @admin.display(description=_("Letters"), ordering="letter_count")
    def letter_count(self, batch: PrintBatch) -> int:
        return batch.letter_count  # type: ignore[attr-defined]  # annotated in get_queryset


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["kind", "recipient", "state", "attempts", "created_at", "sent_at", "error"]
    list_filter = ["state", "kind"]
    list_select_related = ["recipient"]
    search_fields = ["key", "recipient__email"]
    fields = readonly_fields = (
        "recipient",
        "kind",
        "key",
        "context",
        "state",
        "attempts",
        "last_error",
        "created_at",
        "attempted_at",
        "sent_at",
    )

    @admin.display(description=_("Last error"))
    def error(self, notification: Notification) -> str:
        return notification.last_error[:120]


# --- Scanning runs (messaging.intake) ----------------------------------------------------------

# Stored paths are for the access-checked page image view only.
declare_private_fields(ScanPage, "image")
declare_private_fields(ScanRunFile, "file")


class ScanPageInline(PrivateFieldsMixin, admin.TabularInline):
    model = ScanPage
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "number",
        "state",
        "triage_reason",
        "mark_code",
        "mark_page",
        "letter",
        "image_link",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("facility", "letter")

    @admin.display(description=_("Page image"))
    def image_link(self, page: ScanPage) -> str:
        if not page.image:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            reverse("liaison_letters:scan_page_image", args=[page.facility.slug, page.pk]),
            pgettext("link to a scanned page", "Open"),
        )


@admin.register(ScanRun)
class ScanRunAdmin(ReadOnlyAdmin):
    """Runs of every facility; staff upload the runs of replies that came by post."""

    list_display = [
        "__str__",
        "facility",
        "uploaded_by",
        "state",
        "pages_done",
        "pages_total",
        "replies_made",
        "created_at",
    ]
    list_filter = ["state", "facility"]
    list_select_related = ["facility", "uploaded_by"]
    fields = readonly_fields = (
        "facility",
        "uploaded_by",
        "state",
        "pages_total",
        "pages_done",
        "replies_made",
        "error",
        "created_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
    )
    inlines = [ScanPageInline]
    change_list_template = "messaging/liaison/scan_run_admin_change_list.html"

    def get_urls(self):
        # The view reads its own body (large uploads): CSRF is checked inside it.
        upload = path(
            "upload/",
            self.admin_site.admin_view(csrf_exempt(self.upload_run_view)),
            name="messaging_scanrun_upload",
        )
        return [upload, *super().get_urls()]

    def has_upload_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.has_perm("messaging.add_scanrun")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_upload": self.has_upload_permission(request)}
        return super().changelist_view(request, extra_context)

    def upload_run_view(self, request: HttpRequest) -> HttpResponse:
        """A scanning run of replies that reached the service by post, for one facility."""
        if not self.has_upload_permission(request):
            raise PermissionDenied
        body_error = read_run_upload(request)
        if body_error:
            return self._render_upload(
                request, ScanRunForm(facilities=Facility.objects.all()), body_error
            )
        return csrf_protect(self._upload_run)(request)

    def _upload_run(self, request: HttpRequest) -> HttpResponse:
        is_post = request.method == "POST"
        form = ScanRunForm(
            request.POST if is_post else None,
            request.FILES if is_post else None,
            facilities=Facility.objects.all(),
        )
        if is_post and form.is_valid():
            # An account: admin_view lets only active staff in.
            staff = cast(User, request.user)
            try:
                run = check_upload_run(
                    staff,
                    form.cleaned_data["facility"],
                    form.cleaned_data["scans"],
                    form.cleaned_data["idempotency_key"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(
                    request,
                    gettext(
                        "Scanning run %(run)s uploaded; its pages are being read. Pages that "
                        "cannot be matched wait for the facility's liaison to sort them."
                    )
                    % {"run": run.pk},
                    messages.SUCCESS,
                )
                return redirect("admin:messaging_scanrun_change", run.pk)
        return self._render_upload(request, form)

    def _render_upload(
        self, request: HttpRequest, form: ScanRunForm, body_error: str = ""
    ) -> HttpResponse:
        context = {
            "body_error": body_error,
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Upload a scanning run of replies that came by post"),
            "form": form,
        }
        return TemplateResponse(request, "messaging/liaison/scan_run_admin_upload.html", context)
