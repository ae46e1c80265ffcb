"""The facility side of letters in the liaison portal: the print queue, print
batches (print view, PDF, delivery) and reply uploads.

Every view resolves its facility through profiles.access (404 outside the
liaison's facilities) and its batch through `get_batch_for_liaison`, so a
liaison cannot even learn that another facility's batch exists.
penpals.middleware.RequireMFAMiddleware requires a second factor for all of
/liaison/. Pages show legal names and inmate numbers, so no response may be
stored by a browser or proxy cache.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from messaging import printing, selectors
from messaging.access import get_batch_for_liaison
from messaging.liaison_forms import DeliveredForm, PrintBatchForm, ReplyUploadForm
from messaging.models import Letter
from messaging.replies import check_upload_reply
from messaging.services import PRINT_BATCH_MAX_LETTERS, check_create_print_batch, do_mark_delivered
from penpals.http import AuthenticatedHttpRequest, private_page
from profiles.access import get_facility_for_liaison
from profiles.models import Facility

PAGE_SIZE = 50
# The seconds between checks while a batch's PDF is being rendered.
PDF_PENDING_REFRESH_SECONDS = 5


# --- Print queue ---------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def print_queue(request: AuthenticatedHttpRequest, facility_slug: str) -> HttpResponse:
    facility = get_facility_for_liaison(request.user, facility_slug)
    if request.method == "POST":
        return create_batch(request, facility)
    page = Paginator(selectors.letters_waiting_to_print(facility), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    form = PrintBatchForm()
    return render(
        request,
        "messaging/liaison/print_queue.html",
        {
            "facility": facility,
            "page": page,
            "form": form,
            "batch_max": PRINT_BATCH_MAX_LETTERS,
        },
    )


def create_batch(request: AuthenticatedHttpRequest, facility: Facility) -> HttpResponse:
    form = PrintBatchForm(request.POST)
    if not form.is_valid():
        for error in form.non_field_errors() or [
            gettext("The form was incomplete; please try again.")
        ]:
            messages.error(request, str(error))
        return redirect("liaison_letters:queue", facility_slug=facility.slug)
    try:
        batch = check_create_print_batch(
            request.user, facility, form.letter_ids(), form.cleaned_data["idempotency_key"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("liaison_letters:queue", facility_slug=facility.slug)
    printing.request_batch_pdf(batch)
    count = batch.letters.count()
    messages.success(
        request,
        ngettext(
            "Print batch %(batch)s: %(count)s letter. Print them from the "
            "print view or the PDF, hand them out, then mark them delivered.",
            "Print batch %(batch)s: %(count)s letters. Print them from the "
            "print view or the PDF, hand them out, then mark them delivered.",
            count,
        )
        % {"batch": batch.pk, "count": count},
    )
    return redirect("liaison_letters:batch_detail", facility_slug=facility.slug, batch_id=batch.pk)


# --- Batches ------------------------------------------------------------------------------


@login_required
@require_GET
@private_page
def batch_list(request: AuthenticatedHttpRequest, facility_slug: str) -> HttpResponse:
    facility = get_facility_for_liaison(request.user, facility_slug)
    page = Paginator(selectors.print_batches_with_counts(facility), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request, "messaging/liaison/batch_list.html", {"facility": facility, "page": page}
    )


@login_required
@require_GET
@private_page
def batch_detail(
    request: AuthenticatedHttpRequest, facility_slug: str, batch_id: int
) -> HttpResponse:
    batch = get_batch_for_liaison(request.user, facility_slug, batch_id)
    letters = printing.batch_letters(batch)
    return render(
        request,
        "messaging/liaison/batch_detail.html",
        {
            "facility": batch.facility,
            "batch": batch,
            "letters": letters,
            "waiting_count": sum(1 for letter in letters if letter.status == Letter.Status.PRINTED),
            "pdf_state": printing.ensure_batch_pdf(batch),
            "refresh_seconds": PDF_PENDING_REFRESH_SECONDS,
        },
    )


@login_required
@require_GET
@private_page
def batch_pdf_status(
    request: AuthenticatedHttpRequest, facility_slug: str, batch_id: int
) -> JsonResponse:
    """Where the batch's PDF is ("ready", "preparing" or "not_made"), for the
    batch page's script, which says so in place instead of reloading."""
    batch = get_batch_for_liaison(request.user, facility_slug, batch_id)
    return JsonResponse({"state": printing.batch_pdf_state(batch)})


@login_required
@require_GET
@private_page
def batch_print(
    request: AuthenticatedHttpRequest, facility_slug: str, batch_id: int
) -> HttpResponse:
    """The print-ready page: one letter per sheet (the PDF is the same page)."""
    batch = get_batch_for_liaison(request.user, facility_slug, batch_id)
    return HttpResponse(printing.render_print_html(batch, for_pdf=False))


@login_required
@require_GET
@private_page
def batch_pdf(
    request: AuthenticatedHttpRequest, facility_slug: str, batch_id: int
) -> HttpResponseBase:
    """The stored PDF as a download; while it is being rendered, a page that
    checks again every few seconds (the download starts when it is ready)."""
    batch = get_batch_for_liaison(request.user, facility_slug, batch_id)
    stored = printing.open_stored_pdf(batch)
    if stored is not None:
        response = FileResponse(
            stored,
            as_attachment=True,
            filename=printing.pdf_filename(batch),
            content_type="application/pdf",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response
    printing.request_batch_pdf(batch)
    return render(
        request,
        "messaging/liaison/pdf_pending.html",
        {
            "facility": batch.facility,
            "batch": batch,
            "refresh_seconds": PDF_PENDING_REFRESH_SECONDS,
        },
        status=202,
    )


@login_required
@require_POST
def batch_delivered(
    request: AuthenticatedHttpRequest, facility_slug: str, batch_id: int
) -> HttpResponse:
    """Mark the whole batch, or one letter of it, delivered. Repeating it is harmless."""
    batch = get_batch_for_liaison(request.user, facility_slug, batch_id)
    form = DeliveredForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Choose a letter of this batch."))
    else:
        letter_id = form.cleaned_data["letter"]
        delivered = do_mark_delivered(
            request.user, batch, [letter_id] if letter_id is not None else None
        )
        batch.refresh_from_db(fields=["delivered_at"])
        if batch.delivered_at is not None:
            # Every letter is handed out; the PDF can be rendered again if ever needed.
            printing.discard_stored_pdf(batch)
        if delivered:
            messages.success(
                request,
                ngettext(
                    "Marked %(count)s letter delivered. Each pen pal is told by email.",
                    "Marked %(count)s letters delivered. Each pen pal is told by email.",
                    delivered,
                )
                % {"count": delivered},
            )
        else:
            messages.info(request, gettext("Nothing to change: already marked delivered."))
    return redirect(
        "liaison_letters:batch_detail", facility_slug=batch.facility.slug, batch_id=batch.pk
    )


# --- Replies ------------------------------------------------------------------------------


@login_required
@require_GET
@private_page
def reply_list(request: AuthenticatedHttpRequest, facility_slug: str) -> HttpResponse:
    """Replies uploaded for the facility, newest first, with where each one is."""
    facility = get_facility_for_liaison(request.user, facility_slug)
    page = Paginator(selectors.replies_for_facility(facility), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request, "messaging/liaison/reply_list.html", {"facility": facility, "page": page}
    )


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def reply_upload(request: AuthenticatedHttpRequest, facility_slug: str) -> HttpResponse:
    facility = get_facility_for_liaison(request.user, facility_slug)
    form = ReplyUploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        correspondences=selectors.facility_correspondences(facility),
        choices=selectors.correspondences_accepting_replies(facility),
    )
    if request.method == "POST" and form.is_valid():
        correspondence = form.cleaned_data["correspondence"]
        try:
            letter = check_upload_reply(
                request.user,
                correspondence,
                form.cleaned_data["scans"],
                form.cleaned_data["transcription"],
                form.cleaned_data["idempotency_key"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            pages = letter.scans.count()
            messages.success(
                request,
                ngettext(
                    "Reply for %(code)s uploaded (%(count)s file). A moderator reviews it "
                    "before the pen pal can read it.",
                    "Reply for %(code)s uploaded (%(count)s files). A moderator reviews it "
                    "before the pen pal can read it.",
                    pages,
                )
                % {"code": correspondence.code, "count": pages},
            )
            return redirect("liaison_letters:reply_list", facility_slug=facility.slug)
    return render(
        request, "messaging/liaison/reply_upload.html", {"facility": facility, "form": form}
    )
