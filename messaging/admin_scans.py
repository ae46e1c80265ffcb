"""The staff pages behind a reply's scans on the moderation item page: the
page image (and its redacted copy), blacking out regions of a page, and
confirming or correcting the transcription.

They hang off the letter's admin (LetterAdmin mixes this in), since the
moderation app knows nothing of letters; the item page links to them
through what messaging.review registers. Each view parses the request,
checks access through one helper (messaging.redaction,
messaging.transcription), calls one function, and goes back to the item.
"""

from __future__ import annotations

from typing import cast

from django.contrib import admin, messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from messaging.access import get_scan_for_user
from messaging.redaction import (
    REDACTABLE_STATUSES,
    RedactionForm,
    RedactionRefused,
    clear_redactions,
    get_scan_for_moderator,
    redact,
)
from messaging.transcription import (
    TranscriptionForm,
    TranscriptionRefused,
    check_confirm_transcription,
    get_reply_for_moderator,
    marked_transcription,
    scan_page,
)
from penpals import filetypes
from penpals.models import User
from profiles.access import is_staff_with

# What a stored page image may be served as.
PAGE_IMAGE_TYPES = (filetypes.PNG, filetypes.JPEG, filetypes.WEBP)


def _item_url(request: HttpRequest, letter_id: int) -> str:
    """Back to the moderation item the moderator came from (its id is sent
    with each form), or to the letter's record."""
    item = request.POST.get("item") or request.GET.get("item") or ""
    if item.isdigit():
        return reverse("admin:moderation_moderationitem_change", args=[int(item)])
    return reverse("admin:messaging_letter_change", args=[letter_id])


class ReplyScanViews(admin.ModelAdmin):
    """Mixed into LetterAdmin (before its other bases): these URLs come
    before the admin's own, whose "<path:object_id>/" would catch them."""

    def get_urls(self):
        site = self.admin_site
        return [
            path(
                "scans/<int:scan_id>/image/",
                site.admin_view(self.scan_image_view),
                name="messaging_letter_scan_image",
            ),
            path(
                "scans/<int:scan_id>/redact/",
                site.admin_view(self.redact_view),
                name="messaging_letter_scan_redact",
            ),
            path(
                "<int:letter_id>/transcription/",
                site.admin_view(self.transcription_view),
                name="messaging_letter_transcription",
            ),
            *super().get_urls(),
        ]

    @method_decorator(require_http_methods(["GET", "HEAD"]))
    def scan_image_view(self, request: HttpRequest, scan_id: int) -> FileResponse:
        """A reply's page image, or with ?version=redacted what the pen pal
        gets of it: for staff who may see scans, never cached."""
        if not is_staff_with(request.user, "messaging.view_letterscan"):
            raise Http404("No such scan.")
        scan = get_scan_for_user(request.user, scan_id)
        stored = (
            scan.redacted_image if request.GET.get("version") == "redacted" else scan.page_image
        )
        if not stored:
            raise Http404("No such image.")
        try:
            handle = stored.storage.open(stored.name, "rb")
        except OSError:
            raise Http404("The image is missing from storage.") from None
        kind = filetypes.sniff(handle.read(filetypes.HEAD_BYTES))
        handle.seek(0)
        if kind not in PAGE_IMAGE_TYPES:
            handle.close()
            raise Http404("Not an image.")
        response = FileResponse(handle, content_type=kind.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response

    def _page_context(self, request: HttpRequest, scan, form: RedactionForm) -> dict:
        letter = scan.letter
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Black out a region of page %(page)s") % {"page": scan.page},
            "page": scan_page(scan, (letter.screening or {}).get("ocr_hits", []), form),
            "letter": letter,
            "item_id": request.POST.get("item") or request.GET.get("item") or "",
            "back_url": _item_url(request, letter.pk),
            "is_redactable": letter.status in REDACTABLE_STATUSES,
        }

    def redact_view(self, request: HttpRequest, scan_id: int) -> HttpResponse:
        """GET: the page on its own with the region form (the no-JS path, and
        where a refused region is shown again with its numbers). POST: black
        out the region, or with action=clear undo every region of the page."""
        scan = get_scan_for_moderator(request.user, scan_id)
        # An account: admin_view lets only active staff in.
        moderator = cast(User, request.user)
        back = _item_url(request, scan.letter_id) + f"#scan-page-{scan.page}"
        form = RedactionForm(
            request.POST if request.method == "POST" else None,
            auto_id=f"id_scan{scan.pk}_%s",
        )
        if request.method == "POST" and request.POST.get("action") == "clear":
            try:
                clear_redactions(scan, moderator)
            except RedactionRefused as refusal:
                self._say(request, refusal, messages.ERROR)
            else:
                self._say(
                    request,
                    gettext(
                        "Page %(page)s has no blacked-out regions any more: "
                        "the pen pal will get it as scanned."
                    )
                    % {"page": scan.page},
                    messages.SUCCESS,
                )
            return redirect(back)
        if request.method == "POST" and form.is_valid():
            try:
                redact(scan, [form.box], moderator)
            except RedactionRefused as refusal:
                # Said above the page (the form is not shown once the reply
                # is decided); the numbers stay in the form below.
                self._say(request, refusal, messages.ERROR)
            else:
                self._say(
                    request,
                    gettext(
                        "Region blacked out on page %(page)s. The pen pal will only ever "
                        "get this page with it blacked out."
                    )
                    % {"page": scan.page},
                    messages.SUCCESS,
                )
                return redirect(back)
        return TemplateResponse(
            request,
            "admin/moderation/moderationitem/redact_page.html",
            self._page_context(request, scan, form),
        )

    def transcription_view(self, request: HttpRequest, letter_id: int) -> HttpResponse:
        """GET: the transcription form on its own page. POST: confirm the
        text (re-screened if it changed) and go back to the item."""
        letter = get_reply_for_moderator(request.user, letter_id)
        moderator = cast(User, request.user)
        initial = {"text": letter.body or letter.machine_transcription}
        form = TranscriptionForm(
            request.POST if request.method == "POST" else None, initial=initial
        )
        if request.method == "POST" and form.is_valid():
            was_changed = form.cleaned_data["text"] != letter.body
            try:
                check_confirm_transcription(letter, moderator, form.cleaned_data["text"])
            except TranscriptionRefused as refusal:
                form.add_error(None, refusal)
            else:
                self._say(
                    request,
                    gettext(
                        "Transcription corrected and confirmed. It was screened again: "
                        "the hits shown are for the corrected text."
                    )
                    if was_changed
                    else gettext("Transcription confirmed."),
                    messages.SUCCESS,
                )
                return redirect(_item_url(request, letter.pk) + "#reply-transcription")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Confirm the transcription"),
            "letter": letter,
            "transcription_form": form,
            "transcription_pieces": marked_transcription(
                letter.machine_transcription, (letter.screening or {}).get("ocr_hits", [])
            ),
            "item_id": request.POST.get("item") or request.GET.get("item") or "",
            "back_url": _item_url(request, letter.pk),
        }
        return TemplateResponse(
            request, "admin/moderation/moderationitem/transcription_page.html", context
        )

    def _say(self, request: HttpRequest, message, level: int) -> None:
        if not isinstance(message, str):
            message = " ".join(message.messages)
        self.message_user(request, message, level)
