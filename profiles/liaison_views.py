"""The liaison portal: facility liaisons keep their facility's profiles.

Every view resolves what it touches through profiles.access, which answers
404 for anything outside the liaison's facilities (and for anyone who is not
a liaison). penpals.middleware.RequireMFAMiddleware requires a second factor
for all of /liaison/. Pages carry private data (legal names, dates of birth),
so no response may be stored by a browser or proxy cache.
"""

from __future__ import annotations

import io
from pathlib import PurePosixPath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from penpals.filetypes import sniff
from penpals.http import private_page
from penpals.text import end_sentence, grouped
from profiles import csv_import, selectors
from profiles.access import (
    get_facility_for_liaison,
    get_photo_for_liaison,
    get_photo_for_private_file,
    get_profile_for_liaison,
    get_profile_for_private_file,
)
from profiles.forms import (
    ConsentForm,
    LifecycleForm,
    PhotoUploadForm,
    ProfileFilterForm,
    ProfileForm,
    lifecycle_actions_for,
)
from profiles.models import InmateProfile, LiaisonAction
from profiles.services import (
    EDITABLE_STATUSES,
    check_change_lifecycle,
    check_submit_profile,
    check_update_profile,
    check_upload_consent_form,
    check_upload_photo,
    do_create_profile,
    do_delete_photo,
    do_set_primary_photo,
    ensure_editable,
    record_action,
)

PAGE_SIZE = 50
PROFILE_HISTORY_SIZE = 50


# --- How actions read on the history pages ------------------------------------------


def field_labels() -> dict[str, str]:
    return {
        name: str(field.label or name.replace("_", " ").capitalize())
        for name, field in ProfileForm.base_fields.items()
    }


def actor_label(actor, colleague_ids: set[int]) -> str:
    """Who did an action, as a liaison of the facility may see it: a colleague
    by name, anyone from Penpals as "Penpals staff"; never a staff email."""
    if actor is None:
        return gettext("Penpals (automatic)")
    if actor.is_deleted:
        return gettext("Former liaison")
    if actor.pk in colleague_ids:
        # Colleagues of one facility: their address identifies a nameless one.
        return actor.display_name or actor.email
    if actor.is_staff or actor.is_superuser:
        return gettext("Penpals staff")
    return gettext("Another liaison")


def describe_actions(actions, colleague_ids: set[int]):
    """Attach a short human description of each action's detail and who did it
    (for the history tables of a facility, seen by its liaisons: `colleague_ids`)."""
    actions = list(actions)
    labels = field_labels()
    for action in actions:
        action.actor_label = actor_label(action.actor, colleague_ids)
        detail = action.detail or {}
        parts = []
        if detail.get("fields"):
            parts.append(
                gettext("Changed: %(fields)s")
                % {"fields": ", ".join(labels.get(name, name) for name in detail["fields"])}
            )
        if "created" in detail:
            parts.append(
                gettext(
                    "%(file)s: %(rows)s rows, %(created)s created, %(updated)s updated, "
                    "%(unchanged)s unchanged, %(rejected)s rejected"
                )
                % {
                    "file": detail.get("filename") or gettext("CSV file"),
                    "rows": detail.get("rows", 0),
                    "created": detail["created"],
                    "updated": detail.get("updated", 0),
                    "unchanged": detail.get("unchanged", 0),
                    "rejected": detail.get("rejected", 0),
                }
            )
        if "transferred_to" in detail:
            parts.append(gettext("To: %(facility)s") % {"facility": detail["transferred_to"]})
        if "photo" in detail:
            parts.append(gettext("Photo %(photo)s") % {"photo": detail["photo"]})
        if "reason" in detail:
            parts.append(str(detail["reason"]).capitalize())
        action.description = "; ".join(parts)
    return actions


# --- Dashboard and lists ----------------------------------------------------------------


@login_required
@require_GET
@private_page
def dashboard(request: HttpRequest) -> HttpResponse:
    """The portal's front door: a liaison of one facility goes straight to it;
    a liaison of several chooses one."""
    facilities = list(selectors.facilities_with_counts(request.user))
    if not facilities:
        raise Http404("Not a liaison.")
    if len(facilities) == 1:
        return redirect("liaison:facility_dashboard", facility_slug=facilities[0].slug)
    return render(request, "profiles/liaison/choose_facility.html", {"facilities": facilities})


@login_required
@require_GET
@private_page
def facility_dashboard(request: HttpRequest, facility_slug: str) -> HttpResponse:
    facility = get_facility_for_liaison(request.user, facility_slug)
    summary = selectors.dashboard_summary(facility)
    summary["recent_actions"] = describe_actions(
        summary["recent_actions"], selectors.colleague_ids_of(facility)
    )
    context = {"facility": facility, **summary}
    return render(request, "profiles/liaison/dashboard.html", context)


@login_required
@require_GET
@private_page
def profile_list(request: HttpRequest, facility_slug: str) -> HttpResponse:
    facility = get_facility_for_liaison(request.user, facility_slug)
    form = ProfileFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    profiles = selectors.facility_profiles(
        facility, status=filters.get("status") or "", search=filters.get("q", "").strip()
    )
    page = Paginator(profiles, PAGE_SIZE).get_page(request.GET.get("page"))
    query_string = request.GET.copy()
    query_string.pop("page", None)
    return render(
        request,
        "profiles/liaison/profile_list.html",
        {
            "facility": facility,
            "form": form,
            "page": page,
            "query_string": query_string.urlencode(),
        },
    )


@login_required
@require_GET
@private_page
def activity(request: HttpRequest, facility_slug: str) -> HttpResponse:
    """The facility's audit trail: every liaison action, newest first."""
    facility = get_facility_for_liaison(request.user, facility_slug)
    page = Paginator(selectors.facility_actions(facility), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.object_list = describe_actions(page.object_list, selectors.colleague_ids_of(facility))
    return render(request, "profiles/liaison/activity.html", {"facility": facility, "page": page})


def post_data(request: HttpRequest):
    """A form's data: bound on every POST, even an empty one (so it shows its
    errors), unbound on GET."""
    return request.POST if request.method == "POST" else None


def post_files(request: HttpRequest):
    return request.FILES if request.method == "POST" else None


def refuse_closed_profile(request: HttpRequest, profile: InmateProfile) -> HttpResponse | None:
    """Back to the profile page, with the reason, when the profile can no longer change."""
    try:
        ensure_editable(profile)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("liaison:profile_detail", profile_id=profile.pk)
    return None


# --- One profile ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def profile_create(request: HttpRequest, facility_slug: str) -> HttpResponse:
    facility = get_facility_for_liaison(request.user, facility_slug)
    form = ProfileForm(post_data(request), facility=facility)
    if request.method == "POST" and form.is_valid():
        try:
            profile = do_create_profile(request.user, facility, form.cleaned_data)
        except IntegrityError:
            # Another liaison saved the same inmate number a moment ago.
            form.add_error(
                "inmate_number", gettext("A profile with this inmate number was just created.")
            )
        else:
            messages.success(
                request,
                gettext(
                    "Created a draft profile for %(name)s Next: upload "
                    "the signed consent form and a photo, then submit it for review."
                )
                % {"name": end_sentence(profile.display_name)},
            )
            return redirect("liaison:profile_detail", profile_id=profile.pk)
    return render(
        request, "profiles/liaison/profile_form.html", {"facility": facility, "form": form}
    )


@login_required
@require_GET
@private_page
def profile_detail(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_profile_for_liaison(request.user, profile_id)
    colleague_ids = selectors.colleague_ids_of(profile.facility)
    context = {
        "facility": profile.facility,
        "profile": profile,
        "consent_confirmed_by": (
            actor_label(profile.consent_confirmed_by, colleague_ids)
            if profile.consent_confirmed_by
            else gettext("a former liaison")
        ),
        "photos": selectors.profile_photos(profile),
        "history": describe_actions(
            selectors.profile_history(profile, PROFILE_HISTORY_SIZE), colleague_ids
        ),
        "reviews": selectors.profile_reviews(profile),
        "pending_changes": [
            (field_labels().get(name, name), value if isinstance(value, str) else ", ".join(value))
            for name, value in profile.pending_changes.items()
        ],
        "is_editable": profile.status in EDITABLE_STATUSES,
        "lifecycle_actions": lifecycle_actions_for(profile),
    }
    return render(request, "profiles/liaison/profile_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def profile_edit(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_profile_for_liaison(request.user, profile_id)
    if refusal := refuse_closed_profile(request, profile):
        return refusal
    form = ProfileForm(post_data(request), facility=profile.facility, profile=profile)
    if request.method == "POST" and form.is_valid():
        try:
            profile = check_update_profile(request.user, profile, form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        except IntegrityError:
            form.add_error(
                "inmate_number", gettext("A profile with this inmate number was just created.")
            )
        else:
            if profile.pending_changes and profile.is_listed:
                messages.success(
                    request,
                    gettext(
                        "Saved. Changes to the public text wait for a moderator's review; "
                        "the directory shows the approved version until then."
                    ),
                )
            else:
                messages.success(request, gettext("Saved."))
            return redirect("liaison:profile_detail", profile_id=profile.pk)
    return render(
        request,
        "profiles/liaison/profile_form.html",
        {"facility": profile.facility, "profile": profile, "form": form},
    )


@login_required
@require_POST
def profile_submit(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_profile_for_liaison(request.user, profile_id)
    try:
        check_submit_profile(request.user, profile)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            gettext("Submitted for review. A moderator will check the profile and its photos."),
        )
    return redirect("liaison:profile_detail", profile_id=profile.pk)


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def lifecycle(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_profile_for_liaison(request.user, profile_id)
    form = LifecycleForm(post_data(request), profile=profile)
    if request.method == "POST" and form.is_valid():
        try:
            profile = check_change_lifecycle(
                request.user,
                profile,
                form.cleaned_data["action"],
                transferred_to=form.cleaned_data["transferred_to"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                gettext("Done: the profile is now %(status)s.")
                % {"status": profile.get_status_display()},
            )
            return redirect("liaison:profile_detail", profile_id=profile.pk)
    return render(
        request,
        "profiles/liaison/lifecycle.html",
        {"facility": profile.facility, "profile": profile, "form": form},
    )


# --- Consent form and photos ----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def consent_upload(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_profile_for_liaison(request.user, profile_id)
    if refusal := refuse_closed_profile(request, profile):
        return refusal
    form = ConsentForm(post_data(request), post_files(request))
    if request.method == "POST" and form.is_valid():
        try:
            check_upload_consent_form(
                request.user,
                profile,
                form.cleaned_data["consent_form"],
                is_confirmed=form.cleaned_data["is_confirmed"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, gettext("The signed consent form was stored and confirmed."))
            return redirect("liaison:profile_detail", profile_id=profile.pk)
    return render(
        request,
        "profiles/liaison/consent_upload.html",
        {"facility": profile.facility, "profile": profile, "form": form},
    )


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def photo_upload(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_profile_for_liaison(request.user, profile_id)
    if refusal := refuse_closed_profile(request, profile):
        return refusal
    form = PhotoUploadForm(post_data(request), post_files(request))
    if request.method == "POST" and form.is_valid():
        uploaded, repeated = 0, []
        try:
            for photo_file in form.cleaned_data["photos"]:
                _photo, created = check_upload_photo(request.user, profile, photo_file)
                if created:
                    uploaded += 1
                else:
                    repeated.append(PurePosixPath(photo_file.name).name)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        if uploaded:
            messages.success(
                request,
                ngettext(
                    "Uploaded %(count)s photo. "
                    "Each is checked and resized, then reviewed by a moderator.",
                    "Uploaded %(count)s photos. "
                    "Each is checked and resized, then reviewed by a moderator.",
                    uploaded,
                )
                % {"count": uploaded},
            )
        if repeated:
            messages.info(
                request,
                gettext("Already uploaded for this person: %(files)s.")
                % {"files": ", ".join(repeated)},
            )
        return redirect("liaison:profile_detail", profile_id=profile.pk)
    return render(
        request,
        "profiles/liaison/photo_upload.html",
        {"facility": profile.facility, "profile": profile, "form": form},
    )


@login_required
@require_POST
def photo_primary(request: HttpRequest, photo_id: int) -> HttpResponse:
    photo = get_photo_for_liaison(request.user, photo_id)
    do_set_primary_photo(request.user, photo)
    messages.success(request, gettext("The primary photo was changed."))
    return redirect("liaison:profile_detail", profile_id=photo.profile_id)


@login_required
@require_POST
def photo_delete(request: HttpRequest, photo_id: int) -> HttpResponse:
    photo = get_photo_for_liaison(request.user, photo_id)
    profile_id = photo.profile_id
    do_delete_photo(request.user, photo)
    messages.success(request, gettext("The photo was deleted."))
    return redirect("liaison:profile_detail", profile_id=profile_id)


# --- Private files ----------------------------------------------------------------------------


def sniff_file_type(head: bytes) -> tuple[str, str]:
    """(content type, extension) of a private file, from its first bytes."""
    found = sniff(head)
    if found is None:
        return "application/octet-stream", ""
    return found.content_type, found.extension


def private_file_response(field_file, stem: str) -> FileResponse:
    """Stream a file from private storage as a download that no cache keeps.

    The caller has checked who is asking; private storage has no public URL.
    """
    if not field_file:
        # Deleted on schedule (profiles.retention): the row stays, the file does not.
        raise Http404("The file was deleted.")
    try:
        handle = field_file.storage.open(field_file.name, "rb")
        head = handle.read(16)
        handle.seek(0)
    except OSError:
        raise Http404("The file is missing from storage.") from None
    content_type, extension = sniff_file_type(head)
    response = FileResponse(
        handle, as_attachment=True, filename=f"{stem}{extension}", content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def consent_download(request: HttpRequest, profile_id: int) -> FileResponse:
    profile = get_profile_for_private_file(request.user, profile_id)
    if not profile.consent_form:
        raise Http404("No consent form was uploaded.")
    record_action(
        request.user, profile.facility, LiaisonAction.Kind.CONSENT_DOWNLOADED, profile=profile
    )
    return private_file_response(profile.consent_form, f"consent-form-{profile.pk}")


@login_required
@require_GET
def photo_original(request: HttpRequest, photo_id: int) -> FileResponse:
    photo = get_photo_for_private_file(request.user, photo_id)
    record_action(
        request.user,
        photo.profile.facility,
        LiaisonAction.Kind.ORIGINAL_DOWNLOADED,
        profile=photo.profile,
        photo=photo.pk,
    )
    return private_file_response(photo.original, f"photo-{photo.pk}-original")


# --- CSV import ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def csv_import_page(request: HttpRequest, facility_slug: str) -> HttpResponse:
    facility = get_facility_for_liaison(request.user, facility_slug)
    form = csv_import.CsvImportForm(post_data(request), post_files(request))
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = csv_import.import_profiles(
                request.user,
                facility,
                form.cleaned_data["rows"],
                is_dry_run=form.cleaned_data["is_dry_run"],
                filename=PurePosixPath(form.cleaned_data["csv_file"].name).name,
            )
        except csv_import.ImportFailed as error:
            messages.error(request, str(error))
    return render(
        request,
        "profiles/liaison/csv_import.html",
        {
            "facility": facility,
            "form": form,
            "report": report,
            "columns": csv_import.COLUMNS,
            "max_rows": grouped(csv_import.MAX_ROWS),
        },
    )


@login_required
@require_GET
@private_page
def csv_template(request: HttpRequest, facility_slug: str) -> HttpResponse:
    get_facility_for_liaison(request.user, facility_slug)
    out = io.StringIO()
    csv_import.write_template(out)
    response = HttpResponse(
        # A byte-order mark, so spreadsheet programs open the file as UTF-8.
        "\ufeff" + out.getvalue(),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="penpals-profiles-template.csv"'
    return response
