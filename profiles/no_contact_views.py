"""Liaisons record no-contact orders for their facility's profiles.

A liaison may learn from the person in their care, or from a court order,
that someone must not write to them. The order is checked when a letter is
written (messaging.services.writing_refusal).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from moderation.safety_forms import LiaisonNoContactOrderForm
from penpals.http import private_page
from profiles.access import get_profile_for_liaison
from profiles.protection import do_record_liaison_no_contact_order
from profiles.selectors import active_no_contact_orders


@login_required
@require_http_methods(["GET", "POST"])
@private_page
def no_contact_orders(request: HttpRequest, profile_id: int) -> HttpResponse:
    profile = get_profile_for_liaison(request.user, profile_id)
    form = LiaisonNoContactOrderForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        do_record_liaison_no_contact_order(request.user, profile, form.cleaned_data)
        messages.success(
            request,
            gettext(
                "No-contact order recorded: letters from this person to %(name)s will be refused."
            )
            % {"name": profile.display_name},
        )
        return redirect("liaison_safety:no_contact_orders", profile_id=profile.pk)
    orders = active_no_contact_orders(profile)
    return render(
        request,
        "moderation/liaison/no_contact_orders.html",
        {"facility": profile.facility, "profile": profile, "form": form, "orders": orders},
    )
