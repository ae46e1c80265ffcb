"""What staff and liaisons do to protect someone from a listed person: staff
pause a profile and lift a pause; a liaison records a no-contact order for
their facility's profile. (The orders themselves, and protection requests,
are moderation's: moderation.protection.)"""

from __future__ import annotations

from django.db import transaction

from moderation.models import NoContactOrder
from moderation.protection import enforce_order_later
from profiles.models import LiaisonAction
from profiles.services import check_change_lifecycle, record_action


def pause_profile(profile, staff):
    """Pause a profile on staff's decision (audited as a lifecycle action by
    `staff`). Only staff can resume it; a profile its liaison had paused
    becomes staff-paused."""
    return check_change_lifecycle(staff, profile, "paused", by_staff=True)


def resume_profile(profile, staff):
    """Staff lift a pause (theirs or the liaison's): the profile returns to the
    directory. Audited as a lifecycle action by `staff`."""
    return check_change_lifecycle(staff, profile, "resumed", by_staff=True)


@transaction.atomic
def do_record_liaison_no_contact_order(liaison, profile, fields: dict) -> NoContactOrder:
    """A liaison's order, kept in the facility's audit trail. The trail names
    the order, not the protected person: it is read more widely than the order.

    The liaison must learn nothing about pen pals' accounts: the order is
    applied to existing correspondences in a task, so the response, the
    audit entry and the time taken are the same whether or not anyone
    writes from that email."""
    order = NoContactOrder.objects.create(profile=profile, created_by=liaison, **fields)
    enforce_order_later(order)
    record_action(
        liaison,
        profile.facility,
        LiaisonAction.Kind.NO_CONTACT_ORDER,
        profile=profile,
        order=order.pk,
    )
    return order
