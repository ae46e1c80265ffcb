"""Every change to a letter's status happens here.

`check_*` functions enforce the rules (limits, blocks, no-contact orders) and
then call `do_*`, which makes the change. A letter walks:

    outbound: submitted → in review → approved → printed → delivered
                                    ↘ rejected (with the moderator's reason)
    inbound:  submitted → in review → approved → read
                                    ↘ rejected

Screening (`screen_letter`) runs in a Celery task after the letter commits;
the moderator's decision arrives through the handlers registered with
moderation.registry (`approve_letter`, `reject_letter`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, ngettext

from messaging.limits import letter_too_long
from messaging.models import (
    Correspondence,
    CorrespondenceQuerySet,
    Letter,
    Notification,
    PrintBatch,
)
from messaging.ocr import mean_confidence, words_for_span
from moderation.active_rules import screen_fields, screen_text
from moderation.alerts import (
    DISGUISED,
    EMAIL_MATCHES_BLOCKED,
    EMAIL_MATCHES_ORDER,
    EMAIL_MATCHES_SUSPENSION,
    EVASION,
    NAME_MATCHES_ORDER,
    OCR_FAILED,
    RESEMBLES_HARMFUL,
    Alert,
    alert,
)
from moderation.models import (
    ModerationItem,
    NoContactOrder,
    WritingSuspension,
    account_identifiers,
)
from moderation.screening import ScreeningResult
from moderation.services import do_decide, submit_for_review, withdraw_pending
from penpals.emails import normalize_email, normalize_person_name
from penpals.models import User
from penpals.tasks import enqueue_on_commit, task_named
from profiles.models import Facility, InmateProfile, LiaisonAction
from profiles.services import record_action

logger = logging.getLogger(__name__)

Status = Letter.Status
Direction = Letter.Direction

# Most letters one print batch takes: a mailroom prints in runs it can handle.
PRINT_BATCH_MAX_LETTERS = 200


class LetterRefused(ValidationError):
    """Why a letter cannot be written; the message is shown to the writer."""


# --- Who may write ------------------------------------------------------------------

# Shown when a no-contact order matches: neutral on purpose, so the writer
# learns nothing about the order or the person who asked for it.
NOT_ACCEPTING_MESSAGE = gettext_noop("This person cannot receive letters from you through Penpals.")
# Shown to a pen pal whose account staff suspended from writing.
SUSPENDED_MESSAGE = gettext_noop(
    "Your account has been suspended from writing letters. "
    "If you think this is a mistake, contact the Penpals team."
)


def has_verified_email(user: User) -> bool:
    return EmailAddress.objects.filter(user=user, verified=True).exists()


def writing_refusal(user: User, profile: InmateProfile, correspondence=None) -> str:
    """Why `user` cannot write to `profile` right now ("" when they can).

    The limits that count letters are checked later, under a lock, in
    check_write_letter; these are the reasons the form page can show at once.
    """
    if not user.is_authenticated or user.is_deleted:
        return gettext("Sign in to write a letter.")
    if user.is_staff or user.facility_memberships.exists():
        return gettext("Staff and facility accounts cannot write letters as a pen pal.")
    if WritingSuspension.objects.active().filter(user=user).exists():
        return gettext(SUSPENDED_MESSAGE)
    if not has_verified_email(user):
        return gettext("Confirm your email address before you write a letter.")
    if profile.status == InmateProfile.Status.PAUSED:
        return gettext("This profile is paused; letters cannot be sent to it for now.")
    if profile.status != InmateProfile.Status.PUBLISHED or not profile.facility.is_active:
        return gettext("This person is no longer listed, so letters cannot be sent.")
    if not profile.is_accepting_letters:
        return gettext("This person is not accepting new letters at the moment.")
    if correspondence is not None:
        if correspondence.is_closed:
            return gettext("This correspondence is closed: %(reason)s.") % {
                "reason": correspondence.get_close_reason_display().lower()
            }
        if correspondence.blocked_by_pen_pal_at:
            return gettext("You have blocked this correspondence. Unblock it to write again.")
        if correspondence.blocked_by_inmate_at:
            return gettext(NOT_ACCEPTING_MESSAGE)
    if is_covered_by_no_contact_order(user, profile):
        return gettext(NOT_ACCEPTING_MESSAGE)
    return ""


def is_covered_by_no_contact_order(user: User, profile: InmateProfile) -> bool:
    """Whether an active order for `profile` names one of `user`'s addresses
    (login or verified), compared in normalised form: "ann+x@…" and
    "A.nn@googlemail.com" are Ann's gmail address. Served by the
    moderation_nco_profile_email index."""
    return (
        NoContactOrder.objects.active()
        .filter(profile=profile, email_normalized__in=account_identifiers(user))
        .exists()
    )


def check_write_letter(user: User, profile: InmateProfile, body: str, idempotency_key) -> Letter:
    """Write a letter, or raise LetterRefused saying why not.

    A second call with the same idempotency key returns the first letter, so a
    double click or a retried POST makes one letter.
    """
    with transaction.atomic():
        # One pen pal's letters are written one at a time: the daily limits
        # and the idempotency key are checked against committed rows.
        User.objects.select_for_update().filter(pk=user.pk).first()
        existing = Letter.objects.filter(created_by=user, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        body = body.replace("\x00", "").strip()
        if not body:
            raise LetterRefused(gettext("Write something before you send the letter."))
        if too_long := letter_too_long(body):
            raise LetterRefused(too_long)
        correspondence = Correspondence.objects.filter(pen_pal=user, profile=profile).first()
        refusal = writing_refusal(user, profile, correspondence)
        if refusal:
            raise LetterRefused(refusal)
        since = timezone.now() - timedelta(days=1)
        written_today = Letter.objects.filter(
            created_by=user, direction=Direction.OUTBOUND, created_at__gte=since
        ).count()
        if written_today >= settings.LETTERS_PER_DAY:
            raise LetterRefused(
                ngettext(
                    # The singular reads as the English always has ("1 letters"): tests
                    # pin it; a translation gives each form its own words.
                    "You can send %(count)s letters a day. Please try again tomorrow.",
                    "You can send %(count)s letters a day. Please try again tomorrow.",
                    settings.LETTERS_PER_DAY,
                )
                % {"count": settings.LETTERS_PER_DAY}
            )
        if correspondence is None:
            started_today = Correspondence.objects.filter(
                pen_pal=user, created_at__gte=since
            ).count()
            if started_today >= settings.NEW_CORRESPONDENCES_PER_DAY:
                raise LetterRefused(
                    ngettext(
                        "You can start writing to %(count)s new people a day. "
                        "Please try again tomorrow.",
                        "You can start writing to %(count)s new people a day. "
                        "Please try again tomorrow.",
                        settings.NEW_CORRESPONDENCES_PER_DAY,
                    )
                    % {"count": settings.NEW_CORRESPONDENCES_PER_DAY}
                )
        return do_write_letter(user, profile, body, idempotency_key, correspondence)


def do_write_letter(
    user: User, profile: InmateProfile, body: str, idempotency_key, correspondence=None
) -> Letter:
    now = timezone.now()
    if correspondence is None:
        correspondence = Correspondence.objects.create(
            pen_pal=user, profile=profile, last_letter_at=now
        )
    else:
        Correspondence.objects.filter(pk=correspondence.pk).update(last_letter_at=now)
    letter = Letter.objects.create(
        correspondence=correspondence,
        direction=Direction.OUTBOUND,
        body=body,
        created_by=user,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    enqueue_screening(letter)
    return letter


def enqueue_screening(letter: Letter) -> None:
    enqueue_on_commit("messaging.tasks.screen_letter", letter.pk)


# --- Screening ----------------------------------------------------------------------


def evasion_alerts(letter: Letter) -> list[Alert]:
    """Why the writer of `letter` may be someone kept away from its recipient
    under another account: their name matches a no-contact order for the
    profile, or one of their addresses (normalised) matches an order, a
    suspended account, or an account the person in prison blocked. For
    moderators only; never shown to the writer or the protected person."""
    if not letter.is_outbound or letter.created_by is None:
        return []
    writer = letter.created_by
    profile_id = letter.correspondence.profile_id
    identifiers = account_identifiers(writer)
    name = normalize_person_name(writer.display_name)
    alerts = []
    for order in NoContactOrder.objects.active().filter(profile=profile_id):
        match = order.matches(identifiers, name)
        if match:
            alerts.append(_order_alert(order, match))
    if identifiers:
        suspended = (
            WritingSuspension.objects.active()
            .filter(normalized_emails__overlap=identifiers)
            .exclude(user=writer)
            .values_list("pk", flat=True)
        )
        alerts += [alert(EMAIL_MATCHES_SUSPENSION, suspension=pk) for pk in suspended]
        blocked = (
            Correspondence.objects.filter(profile_id=profile_id, blocked_by_inmate_at__isnull=False)
            .exclude(pen_pal=writer)
            .select_related("pen_pal")
        )
        for correspondence in blocked:
            if normalize_email(correspondence.pen_pal.email) in identifiers:
                alerts.append(alert(EMAIL_MATCHES_BLOCKED, code=correspondence.code))
    return alerts


def _identifiers_by_user(users) -> dict[int, list[str]]:
    """Each user's normalised addresses (login and verified), in two queries."""
    users = list(users)
    identifiers = {user.pk: {normalize_email(user.email)} for user in users}
    for user_id, address in EmailAddress.objects.filter(user__in=users, verified=True).values_list(
        "user_id", "email"
    ):
        identifiers[user_id].add(normalize_email(address))
    return {user_id: sorted(found - {""}) for user_id, found in identifiers.items()}


def _return_to_review(letter: Letter, evasion: Alert) -> None:
    """Put an outbound letter that is in review or approved (not printed)
    back before a moderator, held with the evasion flag. The writer is told
    nothing: to them the letter is simply not delivered yet."""
    screening = dict(letter.screening or {})
    alerts = [*screening.get("alerts", [])]
    for found in (alert(EVASION), evasion):
        if found not in alerts:
            alerts.append(found)
    categories = sorted(set(screening.get("categories", [])) | {"other"})
    risk = max(int(screening.get("risk", 0)), min(100, int(screening.get("risk", 0)) + 40))
    letter.screening = {**screening, "alerts": alerts, "categories": categories, "risk": risk}
    letter.screened_at = timezone.now()
    letter.status = Status.IN_REVIEW
    letter.approved_at = None
    letter.save(update_fields=["screening", "screened_at", "status", "approved_at"])
    submit_for_review(
        letter,
        ModerationItem.Kind.LETTER_OUT,
        facility=letter.correspondence.profile.facility,
        summary=_review_summary(letter),
        alerts=alerts,
        risk_score=risk,
        flags=categories,
        language=screening.get("language", ""),
    )


def _order_alert(order: NoContactOrder, match: str) -> Alert:
    message = EMAIL_MATCHES_ORDER if match == "email" else NAME_MATCHES_ORDER
    return alert(message, order=order.pk)


def enforce_no_contact_order(order_id: int) -> int:
    """Apply a new no-contact order to what already exists (a task, so the
    person who recorded it learns nothing about pen pals' accounts):
    correspondences of a writer at the order's address are closed, and every
    letter of a matching writer (address or name) that is in review or
    approved but not printed goes back to a moderator, flagged. Returns how
    many correspondences matched. Safe to run twice."""
    with transaction.atomic():
        order = NoContactOrder.objects.active().filter(pk=order_id).first()
        if order is None:
            return 0
        correspondences = list(
            Correspondence.objects.filter(profile_id=order.profile_id)
            .select_related("pen_pal")
            .order_by("pk")
        )
        identifiers = _identifiers_by_user(c.pen_pal for c in correspondences)
        matched = 0
        for correspondence in correspondences:
            pen_pal = correspondence.pen_pal
            match = order.matches(
                identifiers[pen_pal.pk], normalize_person_name(pen_pal.display_name)
            )
            if not match:
                continue
            matched += 1
            if match == "email":
                # Closed: nothing in it is delivered, either way.
                close_correspondences(
                    Correspondence.objects.filter(pk=correspondence.pk),
                    Correspondence.CloseReason.MODERATOR,
                )
                continue
            held = (
                Letter.objects.select_for_update(of=("self",))
                .select_related("correspondence__profile__facility")
                .filter(
                    correspondence=correspondence,
                    direction=Direction.OUTBOUND,
                    status__in=(Status.IN_REVIEW, Status.APPROVED),
                )
            )
            for letter in held:
                _return_to_review(letter, _order_alert(order, match))
        return matched


def on_no_contact_order_recorded(sender, order: NoContactOrder, immediately: bool, **kwargs):
    """Receiver of moderation.signals.no_contact_order_recorded."""
    if immediately:
        enforce_no_contact_order(order.pk)
    else:
        enqueue_on_commit("messaging.tasks.enforce_no_contact_order", order.pk)


def hold_letters_under_no_contact_orders(letters: list[Letter]) -> list[Letter]:
    """The print-time check: of approved `letters` (locked by the caller),
    send back to review those whose writer matches an active no-contact order
    for their profile that a moderator has not seen (made after the letter
    was last screened), and return the ones that may print. Catches what
    enforce_no_contact_order has not reached yet (task pending or lost)."""
    if not letters:
        return letters
    profile_ids = {letter.correspondence.profile_id for letter in letters}
    orders_by_profile: dict[int, list[NoContactOrder]] = {}
    for order in NoContactOrder.objects.active().filter(profile_id__in=profile_ids):
        orders_by_profile.setdefault(order.profile_id, []).append(order)
    if not orders_by_profile:
        return letters
    writers = {letter.created_by_id: letter.created_by for letter in letters if letter.created_by}
    identifiers = _identifiers_by_user(writers.values())
    printable = []
    for letter in letters:
        writer = writers.get(letter.created_by_id)
        evasion: Alert | None = None
        for order in orders_by_profile.get(letter.correspondence.profile_id, []):
            seen = letter.screened_at is not None and letter.screened_at > order.created_at
            if writer is None or seen:
                continue
            match = order.matches(
                identifiers[writer.pk], normalize_person_name(writer.display_name)
            )
            if match:
                evasion = _order_alert(order, match)
                break
        if evasion:
            _return_to_review(letter, evasion)
        else:
            printable.append(letter)
    return printable


# Stored in English as the decision's note and shown translated (its msgid).
AUTO_APPROVED_NOTE = gettext_noop(
    "Approved automatically: no screening hits, and this facility reviews flagged letters only."
)


def screen_letter(letter_id: int, *, ocr_failed_pages: Sequence[int] = ()) -> None:
    """Screen a submitted letter and open its moderation item. Safe to run twice:
    a letter that is no longer "submitted" is left alone.

    A reply is screened as typed (`body`) and as OCR read its scans
    (messaging.reading calls this once they are read, naming the pages OCR
    could not read in `ocr_failed_pages`)."""
    with transaction.atomic():
        letter = (
            Letter.objects.select_for_update(of=("self",))
            .select_related("correspondence__profile__facility", "created_by")
            .filter(pk=letter_id)
            .first()
        )
        if letter is None or letter.status != Status.SUBMITTED:
            return
        facility = letter.correspondence.profile.facility
        scope = "outbound" if letter.is_outbound else "inbound"
        result = screen_text(letter.body, scope=scope, facility_id=facility.pk)
        body_hits = result.hits
        ocr_hits: list[dict] = []
        if not letter.is_outbound:
            # Categories, risk and alerts come from the transcription and the
            # OCR text together; "hits" stay the transcription's own.
            result, ocr_hits = _screen_with_scans(letter, scope, facility.pk)
        alerts = evasion_alerts(letter)
        categories = result.categories
        risk = result.risk
        if alerts:
            categories = sorted(set(categories) | {"other"})
            risk = min(100, risk + 40)
        # Text made to slip past the rules (screening.disguises) is read by a person.
        disguises = [alert(DISGUISED, what=found) for found in result.disguises]
        if disguises:
            categories = sorted(set(categories) | {"other"})
            risk = min(100, risk + 20)
        # A letter in a language no rule is written for was read by no machine.
        unread = [result.not_screened_alert] if result.not_screened_alert else []
        # The statistical signal raises the risk and keeps the letter for a
        # person; it never rejects on its own.
        resembles = (
            [alert(RESEMBLES_HARMFUL, signal=f"{result.signal:.2f}")] if result.signal_high else []
        )
        if resembles:
            risk = min(100, risk + 15)
        not_read = (
            [alert(OCR_FAILED, pages=", ".join(map(str, ocr_failed_pages)))]
            if ocr_failed_pages
            else []
        )
        letter.screening = {
            "risk": risk,
            "categories": categories,
            "hits": [hit.as_dict() for hit in body_hits],
            "alerts": [alert(EVASION)] * bool(alerts)
            + alerts
            + disguises
            + unread
            + resembles
            + not_read,
            "language": result.language.code,
            "signal": round(result.signal, 3),
        }
        if not letter.is_outbound:
            letter.screening["ocr_hits"] = ocr_hits
        letter.screened_at = timezone.now()
        letter.status = Status.IN_REVIEW
        letter.save(update_fields=["screening", "screened_at", "status"])
        kind = (
            ModerationItem.Kind.LETTER_OUT if letter.is_outbound else ModerationItem.Kind.LETTER_IN
        )
        item = submit_for_review(
            letter,
            kind,
            facility=facility,
            summary=_review_summary(letter),
            alerts=letter.screening["alerts"],
            risk_score=risk,
            flags=categories,
            language=result.language.code,
        )
        auto_approve = (
            facility.screening_mode == Facility.ScreeningMode.FLAGGED_ONLY
            # A reply's scans are read by no machine: a person always looks.
            and letter.is_outbound
            and not result.needs_a_person
            and not alerts
        )
    if auto_approve:
        try:
            do_decide(item.pk, None, approve=True, note=AUTO_APPROVED_NOTE)
        except Exception:
            # A moderator got there first, or the row changed: the item stays
            # in the queue for a person, which is the safe side.
            logger.info("auto-approval skipped for letter %s", letter_id, exc_info=True)


def _screen_with_scans(
    letter: Letter, scope: str, facility_id: int
) -> tuple[ScreeningResult, list[dict]]:
    """Screen a reply's transcription and each OCR'd page as one result, and
    locate the pages' hits: {"scan", "page", "category", "rule", "match",
    "confidence", "boxes"}, the boxes those of the words the hit covers, in
    pixels of the scan's page image (messaging.ocr), and the confidence
    OCR had in them."""
    pages = [scan for scan in letter.scans.order_by("page") if scan.ocr_at and scan.ocr.get("text")]
    together = screen_fields(
        [letter.body, *(scan.ocr["text"] for scan in pages)], scope=scope, facility_id=facility_id
    )
    ocr_hits = []
    for scan in pages:
        for hit in screen_text(scan.ocr["text"], scope=scope, facility_id=facility_id).hits:
            words = words_for_span(scan.ocr, hit.start, hit.end)
            ocr_hits.append(
                {
                    "scan": scan.pk,
                    "page": scan.page,
                    "category": hit.category,
                    "rule": hit.rule,
                    "match": hit.match,
                    "confidence": mean_confidence(words),
                    "boxes": [list(word["box"]) for word in words],
                }
            )
    return together, ocr_hits


def _review_summary(letter: Letter) -> str:
    """The letter's opening words (a reply's transcription, if typed): data
    only, so every moderator reads it as written; the kind of item and its
    scanned pages are shown, worded, beside it."""
    return " ".join(letter.body.split())[:240]


# A reply's reading (OCR, then screening) may take minutes and wait behind a
# scanning run's other replies; it is re-sent only once surely lost.
READING_SWEEP_AFTER = timedelta(minutes=20)


def sweep_unscreened_letters(older_than: timedelta = timedelta(minutes=2)) -> int:
    """Re-send screening for letters whose task was lost (broker down, worker
    killed): a reply's reading, which screens it, and an outbound letter's
    screening."""
    screen_letter_task = task_named("messaging.tasks.screen_letter")
    read_reply_task = task_named("messaging.tasks.read_reply")
    now = timezone.now()
    stuck = list(
        Letter.objects.filter(status=Status.SUBMITTED, created_at__lt=now - older_than)
        .exclude(direction=Direction.INBOUND, created_at__gte=now - READING_SWEEP_AFTER)
        .order_by("created_at")
        .values_list("pk", "direction")[:500]
    )
    for letter_id, direction in stuck:
        task = read_reply_task if direction == Direction.INBOUND else screen_letter_task
        task.delay(letter_id)
    return len(stuck)


# --- Moderation handlers (registered in MessagingConfig.ready) ----------------------------


def _locked_letter(item: ModerationItem) -> Letter | None:
    return (
        Letter.objects.select_for_update(of=("self",))
        .select_related("correspondence__pen_pal")
        .filter(pk=item.object_id)
        .first()
    )


def approve_letter(item: ModerationItem, moderator) -> None:
    letter = _locked_letter(item)
    if letter is None or letter.status != Status.IN_REVIEW:
        return
    now = timezone.now()
    letter.status = Status.APPROVED
    letter.approved_at = now
    letter.save(update_fields=["status", "approved_at"])
    correspondence = letter.correspondence
    if letter.is_outbound:
        notify(correspondence.pen_pal, Notification.Kind.LETTER_APPROVED, letter)
        enqueue_on_commit("messaging.tasks.render_letter_pdf", letter.pk)  # printed from it
    else:
        Correspondence.objects.filter(pk=correspondence.pk).update(last_letter_at=now)
        notify(correspondence.pen_pal, Notification.Kind.REPLY_RECEIVED, letter)


def reject_letter(item: ModerationItem, moderator) -> None:
    letter = _locked_letter(item)
    if letter is None or letter.status != Status.IN_REVIEW:
        return
    letter.status = Status.REJECTED
    letter.rejected_at = timezone.now()
    letter.rejection_reason = item.reason_code
    letter.rejection_note = item.note
    letter.save(update_fields=["status", "rejected_at", "rejection_reason", "rejection_note"])
    if letter.is_outbound:
        notify(letter.correspondence.pen_pal, Notification.Kind.LETTER_REJECTED, letter)
        enqueue_on_commit("messaging.tasks.discard_letter_pdfs", [letter.pk])


def rejection_reason_label(letter: Letter) -> str:
    if not letter.rejection_reason:
        return ""
    try:
        return str(ModerationItem.Reason(letter.rejection_reason).label)
    except ValueError:
        return letter.rejection_reason


# --- Pen pal actions ------------------------------------------------------------------


def do_mark_thread_read(correspondence: Correspondence) -> int:
    """Mark the approved replies in a thread read (the pen pal opened it)."""
    return Letter.objects.filter(
        correspondence=correspondence, direction=Direction.INBOUND, status=Status.APPROVED
    ).update(status=Status.READ, read_at=timezone.now())


def do_block(correspondence: Correspondence) -> None:
    """The pen pal blocks: no more letters either way; approved letters not yet
    printed are held back from the print queue."""
    Correspondence.objects.filter(pk=correspondence.pk, blocked_by_pen_pal_at__isnull=True).update(
        blocked_by_pen_pal_at=timezone.now()
    )


def do_unblock(correspondence: Correspondence) -> None:
    Correspondence.objects.filter(pk=correspondence.pk).update(blocked_by_pen_pal_at=None)


def on_profile_left(sender, profile, **kwargs) -> None:
    """A profile was released or transferred (profiles.signals.profile_left):
    its correspondences close, for that reason, in the same transaction."""
    close_correspondences(profile.correspondences.all(), profile.status)


def close_correspondences(correspondences: CorrespondenceQuerySet, reason: str) -> int:
    """Close the open ones among `correspondences` for `reason`; return how
    many were open. Every path that closes a correspondence comes here (a
    release or transfer, a moderator's decision, a no-contact order).

    A closed correspondence delivers nothing either way, so every letter in
    it still waiting for a decision leaves the moderation queue and is marked
    not delivered: no moderator can approve it afterwards (an inmate's reply
    approved after a no-contact order would reach the protected person).
    Letters are locked, so a screening task running meanwhile either finishes
    first (and its item is withdrawn here) or finds the letter decided.
    """
    with transaction.atomic():
        closed = correspondences.open().update(closed_at=timezone.now(), close_reason=reason)
        waiting = Letter.objects.select_for_update(of=("self",)).filter(
            correspondence__in=correspondences, status__in=(Status.SUBMITTED, Status.IN_REVIEW)
        )
        for letter in waiting:
            kind = (
                ModerationItem.Kind.LETTER_OUT
                if letter.is_outbound
                else ModerationItem.Kind.LETTER_IN
            )
            withdraw_pending(letter, kind)
            letter.status = Status.REJECTED
            letter.save(update_fields=["status"])
    return closed


# --- Print batches --------------------------------------------------------------------


def check_create_print_batch(
    liaison, facility: Facility, letter_ids: list[int] | None, idempotency_key
) -> PrintBatch:
    """Put the chosen letters (None: the whole queue) in a new print batch.

    Letters are locked and re-checked: one that a moderator has not approved,
    or that another batch took first, is never printed.
    """
    with transaction.atomic():
        # One liaison's batches are made one at a time: a double submit waits
        # for the first, then finds its batch (not an emptied queue).
        User.objects.select_for_update().filter(pk=liaison.pk).first()
        existing = PrintBatch.objects.filter(
            created_by=liaison, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
        queue = Letter.objects.print_queue(facility)
        if letter_ids is not None:
            queue = queue.filter(pk__in=letter_ids)
        letters = list(
            queue.select_for_update(of=("self",), skip_locked=True)
            .select_related("correspondence__profile__facility", "created_by")
            .order_by("approved_at", "pk")[:PRINT_BATCH_MAX_LETTERS]
        )
        # A no-contact order made since a letter's review holds it back; the
        # hold is committed even when nothing is left to print.
        letters = hold_letters_under_no_contact_orders(letters)
        batch = None
        if letters:
            batch = PrintBatch.objects.create(
                facility=facility, created_by=liaison, idempotency_key=idempotency_key
            )
            now = timezone.now()
            Letter.objects.filter(pk__in=[letter.pk for letter in letters]).update(
                status=Status.PRINTED, printed_at=now, print_batch=batch
            )
            record_action(
                liaison,
                facility,
                LiaisonAction.Kind.LETTERS_PRINTED,
                batch=batch.pk,
                letters=len(letters),
            )
    if batch is None:
        raise ValidationError(gettext("None of the selected letters are waiting to be printed."))
    return batch


def do_mark_delivered(liaison, batch: PrintBatch, letter_ids: list[int] | None = None) -> int:
    """Mark printed letters of `batch` (all, or the chosen ones) delivered and
    tell each pen pal. Delivering twice changes nothing and emails nobody twice."""
    with transaction.atomic():
        chosen = Letter.objects.filter(print_batch=batch, status=Status.PRINTED)
        if letter_ids is not None:
            chosen = chosen.filter(pk__in=letter_ids)
        letters = list(
            chosen.select_for_update(of=("self",)).select_related("correspondence__pen_pal")
        )
        now = timezone.now()
        for letter in letters:
            letter.status = Status.DELIVERED
            letter.delivered_at = now
            letter.save(update_fields=["status", "delivered_at"])
            notify(letter.correspondence.pen_pal, Notification.Kind.LETTER_DELIVERED, letter)
        if not Letter.objects.filter(print_batch=batch, status=Status.PRINTED).exists():
            PrintBatch.objects.filter(pk=batch.pk, delivered_at__isnull=True).update(
                delivered_at=now, delivered_by=liaison
            )
        if letters:
            enqueue_on_commit("messaging.tasks.discard_letter_pdfs", [each.pk for each in letters])
            record_action(
                liaison,
                batch.facility,
                LiaisonAction.Kind.LETTERS_DELIVERED,
                batch=batch.pk,
                letters=len(letters),
            )
        return len(letters)


# --- Notifications (the outbox) -------------------------------------------------------

# Which preference on the user allows each email.
NOTIFICATION_PREFERENCE = {
    Notification.Kind.LETTER_APPROVED: "has_letter_status_emails",
    Notification.Kind.LETTER_REJECTED: "has_letter_status_emails",
    Notification.Kind.LETTER_DELIVERED: "has_letter_status_emails",
    Notification.Kind.LETTER_RETURNED: "has_letter_status_emails",
    Notification.Kind.REPLY_RECEIVED: "has_reply_emails",
}


def notify(recipient: User, kind: str, letter: Letter) -> Notification | None:
    """Record an email about `letter` in the outbox and send it after commit.

    One email per (kind, letter), however often the event is recorded. The
    context holds ids only: the email is rendered when it is sent, from
    templates that never include the letter's text.
    """
    if recipient.is_deleted or not getattr(
        recipient, NOTIFICATION_PREFERENCE[Notification.Kind(kind)]
    ):
        return None
    notification, created = Notification.objects.get_or_create(
        key=f"{kind}:{letter.pk}",
        defaults={
            "recipient": recipient,
            "kind": kind,
            "context": {"letter_id": letter.pk, "correspondence_id": letter.correspondence_id},
        },
    )
    if created:
        enqueue_on_commit("messaging.tasks.send_notification", notification.pk)
    return notification
