"""The pen pal's side of letters: write, inbox, thread, block, report, and scans.

Every correspondence, letter and scan is reached through the access helpers
of messaging.access, which answer 404 for anything the person asking may not
see: a pen pal reaching another pen pal's letters is the leak that would hurt
most. The rules (limits, blocks, statuses) live in messaging.services and
moderation.reports, the queries behind the pages in messaging.selectors;
these views only do HTTP.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from messaging import selectors, services
from messaging.access import (
    get_correspondence_for_pen_pal,
    get_profile_to_write_to,
    get_reportable_letter,
    get_scan_for_user,
    scan_file_for_user,
)
from messaging.forms import LetterForm
from moderation.reports import ReportForm, existing_report, file_report
from penpals.http import AuthenticatedHttpRequest, private_page
from penpals.text import grouped
from profiles.models import LiaisonAction
from profiles.services import record_action

INBOX_PAGE_SIZE = 20
# What a scan may be served as; anything else is sent as a download.
INLINE_SCAN_TYPES = {"image/jpeg", "image/png", "application/pdf"}


# --- Writing ----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def write(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    profile = get_profile_to_write_to(slug)
    correspondence = selectors.correspondence_between(request.user, profile)
    context = {
        "profile": profile,
        "correspondence": correspondence,
        "max_length": grouped(settings.LETTER_MAX_LENGTH),
        "letters_per_day": settings.LETTERS_PER_DAY,
        "new_people_per_day": settings.NEW_CORRESPONDENCES_PER_DAY,
    }
    if request.method == "GET":
        # Say at once why writing is not possible, rather than after the letter is typed.
        refusal = services.writing_refusal(request.user, profile, correspondence)
        if refusal:
            return render(request, "messaging/write.html", {**context, "refusal": refusal})
        return render(request, "messaging/write.html", {**context, "form": LetterForm()})

    # A POST goes to the service even if something changed since the form was
    # shown (a block, a pause): its refusal comes back with the text kept.

    form = LetterForm(request.POST)
    if not form.is_valid():
        if "idempotency_key" in form.errors:
            form = form.with_fresh_key()
            messages.error(
                request,
                gettext(
                    "Your letter was not sent: this page had expired. Check it and send it again."
                ),
            )
        return render(request, "messaging/write.html", {**context, "form": form})
    try:
        letter = services.check_write_letter(
            request.user,
            profile,
            form.cleaned_data["body"],
            form.cleaned_data["idempotency_key"],
        )
    except services.LetterRefused as refused:
        form.add_error(None, refused.messages)
        return render(request, "messaging/write.html", {**context, "form": form})
    messages.success(
        request,
        gettext(
            "Your letter to %(name)s was sent. Our team reads it before the "
            "facility prints it; you can follow it here."
        )
        % {"name": profile.display_name},
    )
    return redirect("letters:thread", pk=letter.correspondence_id)


# --- Inbox and thread -------------------------------------------------------------------


@login_required
@require_GET
@private_page
def inbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    page = Paginator(selectors.inbox_correspondences(request.user), INBOX_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.object_list = list(page.object_list)
    selectors.attach_latest_letters(page.object_list)
    return render(request, "messaging/inbox.html", {"page": page})


@login_required
@require_GET
@private_page
def thread(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    correspondence = get_correspondence_for_pen_pal(request.user, pk)
    # Read before marking: the replies that were new stay marked "new" on this view.
    letters = list(selectors.thread_letters(correspondence))
    for letter in letters:
        letter.rejection_label = services.rejection_reason_label(letter)
    services.do_mark_thread_read(correspondence)
    profile = correspondence.profile
    return render(
        request,
        "messaging/thread.html",
        {
            "correspondence": correspondence,
            "profile": profile,
            "letters": letters,
            "can_write": not services.writing_refusal(request.user, profile, correspondence),
        },
    )


@login_required
@require_POST
def block(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    correspondence = get_correspondence_for_pen_pal(request.user, pk)
    services.do_block(correspondence)
    messages.success(
        request,
        gettext(
            "You blocked this correspondence. No letters will go to or come from "
            "%(name)s until you unblock it."
        )
        % {"name": correspondence.profile.display_name},
    )
    return redirect("letters:thread", pk=correspondence.pk)


@login_required
@require_POST
def unblock(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    correspondence = get_correspondence_for_pen_pal(request.user, pk)
    services.do_unblock(correspondence)
    messages.success(request, gettext("You unblocked this correspondence."))
    return redirect("letters:thread", pk=correspondence.pk)


# --- Reports ----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def report(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    letter = get_reportable_letter(request.user, pk)
    context = {"letter": letter, "correspondence": letter.correspondence}
    earlier = existing_report(request.user, letter)
    if earlier is not None:
        return render(request, "messaging/report.html", {**context, "earlier_report": earlier})
    form = ReportForm(
        request.POST if request.method == "POST" else None,
        question=gettext("What is wrong with this letter?"),
        privacy_note=gettext("The writer is not told who reported."),
    )
    if request.method == "POST" and file_report(form, request.user, letter):
        messages.success(
            request,
            gettext(
                "Thank you. The Penpals team will look at this letter; the writer is not told "
                "who reported it."
            ),
        )
        return redirect("letters:thread", pk=letter.correspondence_id)
    return render(request, "messaging/report.html", {**context, "form": form})


# --- Scans ------------------------------------------------------------------------------


@login_required
@require_GET
def scan(request: AuthenticatedHttpRequest, pk: int) -> FileResponse:
    page = get_scan_for_user(request.user, pk)
    letter = page.letter
    if not request.user.is_staff and letter.correspondence.pen_pal_id != request.user.pk:
        # A liaison opened it: scans are private letters, so every look is on record.
        record_action(
            request.user,
            letter.correspondence.profile.facility,
            LiaisonAction.Kind.SCAN_DOWNLOADED,
            profile=letter.correspondence.profile,
            scan=page.pk,
        )
    served = scan_file_for_user(request.user, page)
    if served is None:
        # Deleted on schedule (messaging.retention), or a redacted copy not
        # made yet; the thread says so in words.
        raise Http404("The scan was deleted.")
    stored, content_type = served
    try:
        handle = stored.storage.open(str(stored.name), "rb")
    except OSError:
        raise Http404("The scan is missing from storage.") from None
    is_inline = content_type in INLINE_SCAN_TYPES
    extension = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}
    response = FileResponse(
        handle,
        as_attachment=not is_inline,
        filename=f"letter-{page.letter_id}-page-{page.page}{extension.get(content_type, '')}",
        content_type=content_type if is_inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
