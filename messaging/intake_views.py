"""Scanning runs in the liaison portal: the upload of a whole run, its
progress and result, and the triage of pages nobody could match.

Every view resolves its facility, run or page through messaging.intake's
access helpers (404 outside the liaison's facilities), so a liaison cannot
learn that another facility's run or page exists. Pages show scanned letters,
so no response may be stored by a browser or proxy cache (private_page).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent, ValidationError
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from messaging import intake
from messaging.liaison_forms import ScanRunForm, TriagePageForm
from messaging.models import ScanPage, ScanRun
from penpals.http import AuthenticatedHttpRequest, private_page
from profiles.access import get_facility_for_liaison
from profiles.models import Facility

RUNS_SHOWN = 20
TRIAGE_PAGE_SIZE = 10
# The seconds between checks while a run is being read.
RUN_REFRESH_SECONDS = 3


class RunUploadHandler(TemporaryFileUploadHandler):
    """Every file of a run goes to a temporary file (the page engine reads
    from a path). The usual handler (penpals.uploads) keeps no file past the
    largest single upload of the site; a run may be larger, so this one keeps
    bytes until the whole request is past SCAN_RUN_MAX_BYTES, then keeps
    counting without writing, so the form refuses it by its true size."""

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.received = 0
        self.is_over_limit = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.is_over_limit:
            return None
        if self.received > settings.SCAN_RUN_MAX_BYTES:
            self.is_over_limit = True
            self.file.seek(0)
            self.file.truncate()
            return None
        return super().receive_data_chunk(raw_data, start)


# --- Upload and the list of runs ------------------------------------------------------------


@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
@private_page
def scan_runs(request: AuthenticatedHttpRequest, facility_slug: str) -> HttpResponse:
    """The upload form and the facility's recent runs."""
    facility = get_facility_for_liaison(request.user, facility_slug)
    if body_error := read_run_upload(request):
        # Nothing is stored, so no CSRF check is needed to say what went wrong
        # (and the token in the unread body could not be checked).
        return _render_upload(request, facility, ScanRunForm(), body_error)
    return _upload(request, facility)


def read_run_upload(request: HttpRequest) -> str:
    """Read the body of a run's upload with RunUploadHandler; what went wrong
    in words for the uploader, or "".

    The view must be csrf_exempt and check CSRF itself afterwards (csrf_protect):
    the handlers must be in place before anything reads the body, and the
    CSRF check reads it.
    """
    request.upload_handlers = [RunUploadHandler(request)]
    if request.method != "POST":
        return ""
    try:
        request.POST  # noqa: B018  # parse the body now, with the handler above
    except TooManyFilesSent:
        return gettext(
            "That is more files than one run may have (%(count)s). Put the pages in one "
            "PDF or ZIP, or upload the run in parts."
        ) % {"count": settings.DATA_UPLOAD_MAX_NUMBER_FILES}
    except RequestDataTooBig:
        return gettext("The form was too large to read; please try again.")
    return ""


@csrf_protect
def _upload(request: AuthenticatedHttpRequest, facility: Facility) -> HttpResponse:
    is_post = request.method == "POST"
    form = ScanRunForm(request.POST if is_post else None, request.FILES if is_post else None)
    if is_post and form.is_valid():
        try:
            run = intake.check_upload_run(
                request.user,
                facility,
                form.cleaned_data["scans"],
                form.cleaned_data["idempotency_key"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("liaison_letters:scan_run", facility_slug=facility.slug, run_id=run.pk)
    return _render_upload(request, facility, form)


def _render_upload(
    request: AuthenticatedHttpRequest, facility: Facility, form: ScanRunForm, body_error: str = ""
) -> HttpResponse:
    runs = ScanRun.objects.filter(facility=facility).select_related("uploaded_by")[:RUNS_SHOWN]
    return render(
        request,
        "messaging/liaison/scan_run_upload.html",
        {
            "facility": facility,
            "form": form,
            "body_error": body_error,
            "runs": runs,
            "triage_count": intake.triage_pages(facility).count(),
        },
        status=400 if request.method == "POST" else 200,
    )


# --- One run ------------------------------------------------------------------------------


@login_required
@require_GET
@private_page
def scan_run(request: AuthenticatedHttpRequest, facility_slug: str, run_id: int) -> HttpResponse:
    """A run's progress while it is read, then what became of its pages."""
    run = intake.get_run_for_liaison(request.user, facility_slug, run_id)
    return render(
        request,
        "messaging/liaison/scan_run_detail.html",
        {
            "facility": run.facility,
            "run": run,
            "is_working": not intake.is_finished(run),
            "result": intake.run_result(run) if intake.is_finished(run) else None,
            "refresh_seconds": RUN_REFRESH_SECONDS,
        },
    )


@login_required
@require_GET
@private_page
def scan_run_status(
    request: AuthenticatedHttpRequest, facility_slug: str, run_id: int
) -> JsonResponse:
    """How far the run is, for the run page's script (static/js/scan-run-progress.js)."""
    run = intake.get_run_for_liaison(request.user, facility_slug, run_id)
    return JsonResponse(
        {
            "state": run.state,
            "state_label": run.get_state_display(),
            "pages_done": run.pages_done,
            "pages_total": run.pages_total,
            "is_finished": intake.is_finished(run),
        }
    )


# --- Triage ---------------------------------------------------------------------------------


@login_required
@require_GET
@private_page
def triage(request: AuthenticatedHttpRequest, facility_slug: str) -> HttpResponse:
    """The facility's pages waiting for a person, each beside its form."""
    facility = get_facility_for_liaison(request.user, facility_slug)
    return _render_triage(request, facility)


@login_required
@require_POST
@private_page
def triage_page(request: AuthenticatedHttpRequest, facility_slug: str, page_id: int):
    """Assign one page to a reply by its reference, or discard it."""
    page = intake.get_page_for_liaison(request.user, facility_slug, page_id)
    form = TriagePageForm(request.POST, prefix=_prefix(page))
    if form.is_valid():
        try:
            if form.cleaned_data["action"] == TriagePageForm.DISCARD:
                intake.discard_page(request.user, page)
                messages.success(
                    request,
                    gettext("Page %(number)s of run %(run)s discarded.")
                    % {"number": page.number, "run": page.run_id},
                )
            else:
                letter = intake.assign_page(request.user, page, form.cleaned_data["reference"])
                messages.success(
                    request,
                    gettext(
                        "Page %(number)s of run %(run)s is in the reply for %(code)s. "
                        "A moderator reviews it before the pen pal can read it."
                    )
                    % {
                        "number": page.number,
                        "run": page.run_id,
                        "code": letter.correspondence.code,
                    },
                )
        except ValidationError as error:
            form.add_error("reference", error)
        else:
            return redirect("liaison_letters:triage", facility_slug=page.facility.slug)
    return _render_triage(request, page.facility, bound=(page.pk, form), status=400)


def _render_triage(
    request: AuthenticatedHttpRequest,
    facility: Facility,
    bound: tuple[int, TriagePageForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    pages = Paginator(intake.triage_pages(facility), TRIAGE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    bound_id, bound_form = bound if bound else (None, None)
    items = [
        (page, bound_form if page.pk == bound_id else TriagePageForm(prefix=_prefix(page)))
        for page in pages
    ]
    intake.label_pages([page for page, _form in items])
    if bound_id is not None and all(page.pk != bound_id for page in pages):
        # The page is no longer in the list (someone else sorted it): say so at the top.
        for message in bound_form.errors.get("reference", []) if bound_form else []:
            messages.error(request, str(message))
    return render(
        request,
        "messaging/liaison/triage.html",
        {"facility": facility, "page": pages, "items": items},
        status=status,
    )


def _prefix(page: ScanPage) -> str:
    # One form per page on the list: ids and labels stay unique.
    return f"page-{page.pk}"


# --- Page images ------------------------------------------------------------------------------


@login_required
@require_GET
@private_page
def scan_page_image(
    request: AuthenticatedHttpRequest, facility_slug: str, page_id: int
) -> FileResponse:
    """One scanned page's image, to the facility's liaisons and permitted staff."""
    page: ScanPage = intake.get_page_image_for_user(request.user, facility_slug, page_id)
    if not page.image:
        raise Http404("This page's image is no longer kept.")
    try:
        stored = page.image.open("rb")
    except FileNotFoundError:
        # Deleted with the reply's scans on the retention schedule.
        raise Http404("This page's image is no longer kept.") from None
    response = FileResponse(stored, content_type=intake.PAGE_IMAGE_TYPE)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    return response
