"""Recording a returned letter in the liaison portal (/liaison/letters/, MFA
required by penpals.middleware.RequireMFAMiddleware).

Two ways in: from the letter (its print batch's page links here), or from the
returned paper (the reply reference typed, or the reply sheet scanned), which
finds the correspondence and lists its printed letters to choose from. The
rules are in messaging.returns; every lookup answers 404 outside the
liaison's facilities, and a reference of another facility is "not found"
just like one that does not exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from messaging import returns
from messaging.liaison_forms import ChooseReturnForm, FindReturnForm, ReturnForm
from messaging.models import Letter
from penpals.http import AuthenticatedHttpRequest, private_page
from profiles.access import get_facility_for_liaison


def _after_recording(request: AuthenticatedHttpRequest, letter: Letter, recorded: bool) -> None:
    if recorded:
        messages.success(
            request,
            gettext(
                "Return recorded for %(code)s: %(reason)s. The pen pal is told by email "
                "and sees it in their letters."
            )
            % {"code": letter.correspondence.code, "reason": letter.get_return_reason_display()},
        )
    else:
        messages.info(
            request,
            gettext("This letter was already recorded as returned on %(date)s; nothing changed.")
            % {"date": date_format(localtime(letter.returned_at), "SHORT_DATE_FORMAT")},
        )


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def letter_return(
    request: AuthenticatedHttpRequest, facility_slug: str, letter_id: int
) -> HttpResponse:
    """Record a return from the letter itself (linked from its print batch)."""
    letter = returns.get_printed_letter_for_liaison(request.user, facility_slug, letter_id)
    facility = letter.correspondence.profile.facility
    form = ReturnForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            recorded = returns.check_record_return(
                request.user, letter, form.cleaned_data["reason"], form.cleaned_data["note"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            _after_recording(request, letter, recorded)
            if letter.print_batch_id:
                return redirect(
                    "liaison_letters:batch_detail",
                    facility_slug=facility.slug,
                    batch_id=letter.print_batch_id,
                )
            return redirect("liaison_letters:return_find", facility_slug=facility.slug)
    return render(
        request,
        "messaging/liaison/return_letter.html",
        {"facility": facility, "letter": letter, "form": form},
    )


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def return_find(request: AuthenticatedHttpRequest, facility_slug: str) -> HttpResponse:
    """Find the correspondence of a returned letter from the paper: the
    reference typed, or one scan read for its reply sheet's code."""
    facility = get_facility_for_liaison(request.user, facility_slug)
    form = FindReturnForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        scan_kind = form.scan_kind
        try:
            correspondence = returns.find_returned_correspondence(
                request.user,
                code=form.cleaned_data["code"],
                scan=form.cleaned_data["scan"],
                content_type=scan_kind.content_type if scan_kind else "",
            )
        except returns.ScanUnreadable as unreadable:
            form.add_error("scan", unreadable)
        else:
            if correspondence is not None:
                return redirect(
                    "liaison_letters:return_choose",
                    facility_slug=correspondence.profile.facility.slug,
                    correspondence_id=correspondence.pk,
                )
            # The same answer for a reference of another facility as for one
            # that does not exist: nothing is learnt about other facilities.
            status = 404
            form.add_error(
                None,
                gettext(
                    "No correspondence of your facilities has this reply reference. "
                    "Check it against the letter and try again."
                ),
            )
    return render(
        request,
        "messaging/liaison/return_find.html",
        {"facility": facility, "form": form},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def return_choose(
    request: AuthenticatedHttpRequest, facility_slug: str, correspondence_id: int
) -> HttpResponse:
    """Choose which printed letter of the correspondence came back, and why."""
    correspondence = returns.get_correspondence_for_returns(
        request.user, facility_slug, correspondence_id
    )
    letters = returns.returnable_letters(correspondence).select_related("print_batch")
    form = ChooseReturnForm(request.POST if request.method == "POST" else None, letters=letters)
    if request.method == "POST" and form.is_valid():
        letter = form.cleaned_data["letter"]
        letter.correspondence = correspondence
        try:
            recorded = returns.check_record_return(
                request.user, letter, form.cleaned_data["reason"], form.cleaned_data["note"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            _after_recording(request, letter, recorded)
            return redirect(
                "liaison_letters:return_find", facility_slug=correspondence.profile.facility.slug
            )
    return render(
        request,
        "messaging/liaison/return_choose.html",
        {
            "facility": correspondence.profile.facility,
            "correspondence": correspondence,
            "form": form,
            "has_letters": letters.exists(),
            "returned": list(returns.returned_letters(correspondence)),
        },
    )
