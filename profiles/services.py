"""Profile operations that span models, record the audit trail, or enqueue work.

`check_*` functions validate and enforce the rules, then call `do_*`, which
performs the change. Callers have already resolved objects through
profiles.access, so every function here may assume the liaison is allowed to
act on the facility in question.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from moderation.active_rules import screen_fields
from moderation.alerts import DISGUISED, RESEMBLES_HARMFUL, alert
from moderation.models import ModerationItem
from moderation.screening import ScreeningResult
from moderation.services import submit_for_review, withdraw_pending
from penpals.tasks import enqueue_on_commit
from profiles.limits import photo_refusal
from profiles.models import Facility, Favorite, InmateProfile, LiaisonAction, ProfilePhoto
from profiles.signals import profile_left

Status = InmateProfile.Status
Action = LiaisonAction.Kind

# How long a published profile stays listed before its liaison renews it.
LISTING_PERIOD = timedelta(days=365)


def record_action(
    actor, facility: Facility, kind: str, *, profile: InmateProfile | None = None, **detail
) -> None:
    LiaisonAction.objects.create(
        actor=actor, facility=facility, profile=profile, kind=kind, detail=detail
    )


def _review_summary(profile: InmateProfile) -> str:
    return f"{profile.display_name}: {profile.bio[:200]}"


def _changes_summary(profile: InmateProfile) -> str:
    """The proposed words themselves: the item's page names the fields."""
    changed = " · ".join(public_text(value) for value in profile.pending_changes.values())
    return f"{profile.display_name}: {changed[:200]}"


def public_text(value) -> str:
    """A reviewed field's value as the review shows and screening reads it
    (interests joined by commas, as moderation.admin.profile_changes shows them)."""
    return ", ".join(value) if isinstance(value, list) else str(value)


def texts_under_review(profile: InmateProfile, kind: str) -> dict[str, str]:
    """The public text a review of `kind` decides, by field: every reviewed
    field of a new profile; only the proposed values of a change."""
    if kind == ModerationItem.Kind.PROFILE_CHANGE:
        values = {
            name: value
            for name, value in profile.pending_changes.items()
            if name in InmateProfile.REVIEWED_FIELDS
        }
    else:
        values = {name: getattr(profile, name) for name in InmateProfile.REVIEWED_FIELDS}
    return {name: public_text(value) for name, value in values.items()}


def screen_profile(profile: InmateProfile, kind: str) -> ScreeningResult:
    """Screen the text under review with the profile scope (and the facility's
    own rules), each field on its own, so no hit spans two fields. About a
    millisecond a field: done in the request that submits the text."""
    return screen_fields(
        texts_under_review(profile, kind).values(),
        scope="profile",
        facility_id=profile.facility_id,
    )


def submit_profile_for_review(profile: InmateProfile, kind: str, *, summary: str) -> None:
    """Open or refresh the profile's pending item of `kind`, screened: its risk
    and flags are those of the text it now holds. Call inside the caller's
    transaction, with the profile locked."""
    screening = screen_profile(profile, kind)
    alerts = [alert(DISGUISED, what=found) for found in screening.disguises]
    if screening.language.code and screening.not_screened_alert:
        alerts.append(screening.not_screened_alert)
    if screening.signal_high:
        alerts.append(alert(RESEMBLES_HARMFUL, signal=f"{screening.signal:.2f}"))
    submit_for_review(
        profile,
        kind,
        facility=profile.facility,
        summary=summary,
        alerts=alerts,
        risk_score=screening.risk,
        flags=screening.categories,
    )


# --- Profiles ---------------------------------------------------------------------


@transaction.atomic
def do_create_profile(liaison, facility: Facility, fields: dict) -> InmateProfile:
    profile = InmateProfile(facility=facility, status=Status.DRAFT, **fields)
    profile.save()
    record_action(liaison, facility, Action.PROFILE_CREATED, profile=profile)
    return profile


# A liaison keeps a profile up to date until the person leaves the facility.
EDITABLE_STATUSES = frozenset(
    {Status.DRAFT, Status.PENDING_REVIEW, Status.PUBLISHED, Status.PAUSED}
)
# Fields the public never sees; changing them does not change "last updated".
PRIVATE_FIELDS = frozenset({"legal_name", "inmate_number"})


def ensure_editable(profile: InmateProfile) -> None:
    if profile.status not in EDITABLE_STATUSES:
        raise ValidationError(
            gettext("This profile is %(status)s; it can no longer be changed.")
            % {"status": profile.get_status_display().lower()}
        )


def changed_fields(profile: InmateProfile, fields: dict) -> list[str]:
    """The names in `fields` whose value differs from the profile as its
    liaison last left it: for public text of a listed profile, that is the
    edit waiting for review, if any."""
    is_public = profile.is_listed
    changed = []
    for name, value in fields.items():
        current = getattr(profile, name)
        if is_public and name in InmateProfile.REVIEWED_FIELDS:
            current = profile.pending_changes.get(name, current)
        if current != value:
            changed.append(name)
    return changed


def check_update_profile(liaison, profile: InmateProfile, fields: dict) -> InmateProfile:
    ensure_editable(profile)
    return do_update_profile(liaison, profile, fields)


@transaction.atomic
def do_update_profile(liaison, profile: InmateProfile, fields: dict) -> InmateProfile:
    """Apply an edit. Public text of a listed profile waits for review in
    `pending_changes`; everything else, and any change to an unlisted
    profile, applies at once. Saving the same values again changes nothing
    and records nothing, so re-importing a file is safe."""
    profile = InmateProfile.objects.select_for_update().get(pk=profile.pk)
    is_public = profile.is_listed
    changed = changed_fields(profile, fields)
    if not changed:
        return profile
    for name in changed:
        value = fields[name]
        if is_public and name in InmateProfile.REVIEWED_FIELDS:
            if getattr(profile, name) == value:
                # Back to the approved text: nothing left to review.
                profile.pending_changes.pop(name, None)
            else:
                profile.pending_changes[name] = value
        else:
            setattr(profile, name, value)
    if is_public and set(changed) - set(InmateProfile.REVIEWED_FIELDS) - PRIVATE_FIELDS:
        profile.public_updated_at = timezone.now()
    profile.save()
    if is_public:
        if profile.pending_changes:
            submit_profile_for_review(
                profile,
                ModerationItem.Kind.PROFILE_CHANGE,
                summary=_changes_summary(profile),
            )
        else:
            withdraw_pending(profile, ModerationItem.Kind.PROFILE_CHANGE)
    elif profile.status == Status.PENDING_REVIEW:
        submit_profile_for_review(
            profile, ModerationItem.Kind.PROFILE, summary=_review_summary(profile)
        )
    record_action(
        liaison, profile.facility, Action.PROFILE_UPDATED, profile=profile, fields=sorted(changed)
    )
    return profile


def check_upload_consent_form(
    liaison, profile: InmateProfile, consent_file, *, is_confirmed: bool
) -> None:
    ensure_editable(profile)
    do_upload_consent_form(liaison, profile, consent_file, is_confirmed=is_confirmed)


@transaction.atomic
def do_upload_consent_form(
    liaison, profile: InmateProfile, consent_file, *, is_confirmed: bool
) -> None:
    """Store the signed consent form (private) and, if the liaison confirms it
    is signed by this person, record who confirmed it and when."""
    profile = InmateProfile.objects.select_for_update().get(pk=profile.pk)
    old_name = profile.consent_form.name if profile.consent_form else ""
    profile.consent_form.save(consent_file.name, consent_file, save=False)
    try:
        profile.consent_confirmed_by = liaison if is_confirmed else None
        profile.consent_confirmed_at = timezone.now() if is_confirmed else None
        profile.save(update_fields=["consent_form", "consent_confirmed_by", "consent_confirmed_at"])
        record_action(liaison, profile.facility, Action.CONSENT_UPLOADED, profile=profile)
        if is_confirmed:
            record_action(liaison, profile.facility, Action.CONSENT_CONFIRMED, profile=profile)
    except Exception:
        # The row was not written: do not leave the new file behind.
        profile.consent_form.storage.delete(profile.consent_form.name)
        raise
    if old_name:
        storage = profile.consent_form.storage
        transaction.on_commit(lambda: storage.delete(old_name))


def check_submit_profile(liaison, profile: InmateProfile) -> InmateProfile:
    if profile.status not in (Status.DRAFT,):
        raise ValidationError(gettext("Only a draft can be submitted for review."))
    if not profile.has_confirmed_consent:
        raise ValidationError(
            gettext("Upload the signed consent form and confirm it before submitting for review.")
        )
    return do_submit_profile(liaison, profile)


@transaction.atomic
def do_submit_profile(liaison, profile: InmateProfile) -> InmateProfile:
    profile = InmateProfile.objects.select_for_update().get(pk=profile.pk)
    profile.status = Status.PENDING_REVIEW
    profile.save(update_fields=["status", "updated_at"])
    submit_profile_for_review(
        profile, ModerationItem.Kind.PROFILE, summary=_review_summary(profile)
    )
    record_action(liaison, profile.facility, Action.PROFILE_SUBMITTED, profile=profile)
    return profile


# --- Lifecycle -----------------------------------------------------------------------

# Which statuses each lifecycle action may start from.
LIFECYCLE_FROM = {
    Action.PAUSED: {Status.PUBLISHED},
    Action.RESUMED: {Status.PAUSED},
    Action.RENEWED: {Status.PUBLISHED, Status.PAUSED},
    Action.RELEASED: {Status.DRAFT, Status.PENDING_REVIEW, Status.PUBLISHED, Status.PAUSED},
    Action.TRANSFERRED: {Status.DRAFT, Status.PENDING_REVIEW, Status.PUBLISHED, Status.PAUSED},
}


# Shown to the liaison of a profile staff paused; who asked stays with staff.
STAFF_PAUSE_MESSAGE = gettext_noop(
    "Paused by Penpals staff after a safety review; staff will resume it."
)


def check_change_lifecycle(
    liaison,
    profile: InmateProfile,
    action: str,
    *,
    transferred_to: Facility | None = None,
    by_staff: bool = False,
) -> InmateProfile:
    """Check and apply a lifecycle action. `by_staff` is set only by staff's
    own tools (moderation.protection): staff pause any listed profile, and
    only staff resume a profile they paused."""
    if action not in LIFECYCLE_FROM:
        raise ValidationError(gettext("Unknown action."))
    if by_staff and action == Action.PAUSED and profile.status == Status.PAUSED:
        if profile.is_paused_by_staff:
            return profile
        # Paused by its liaison (or expiry) already: staff take the pause over.
        return do_change_lifecycle(liaison, profile, action, by_staff=True)
    if action == Action.RESUMED and profile.is_paused_by_staff and not by_staff:
        raise ValidationError(gettext(STAFF_PAUSE_MESSAGE))
    if profile.status not in LIFECYCLE_FROM[Action(action)]:
        raise ValidationError(
            gettext("A %(status)s profile cannot be %(action)s.")
            % {
                "status": profile.get_status_display().lower(),
                "action": Action(action).label.lower(),
            }
        )
    if transferred_to is not None and transferred_to.pk == profile.facility_id:
        raise ValidationError(gettext("A transfer must be to a different facility."))
    return do_change_lifecycle(
        liaison, profile, action, transferred_to=transferred_to, by_staff=by_staff
    )


@transaction.atomic
def do_change_lifecycle(
    liaison,
    profile: InmateProfile,
    action: str,
    *,
    transferred_to: Facility | None = None,
    by_staff: bool = False,
) -> InmateProfile:
    """Pause, resume, renew, or mark a person released or transferred.

    Released and transferred profiles leave the directory at once; open
    reviews of them are withdrawn. A staff pause (`by_staff`) is lifted only
    by a staff resume: renewing extends the listing but leaves it paused.
    """
    profile = InmateProfile.objects.select_for_update().get(pk=profile.pk)
    staff_takes_over_pause = (
        by_staff and action == Action.PAUSED and profile.status == Status.PAUSED
    )
    if profile.status not in LIFECYCLE_FROM[Action(action)] and not staff_takes_over_pause:
        # Someone changed it between the check and the lock.
        raise ValidationError(
            gettext("This profile is now %(status)s.")
            % {"status": profile.get_status_display().lower()}
        )
    if action == Action.RESUMED and profile.is_paused_by_staff and not by_staff:
        raise ValidationError(gettext(STAFF_PAUSE_MESSAGE))
    if action == Action.PAUSED:
        profile.status = Status.PAUSED
        profile.is_paused_by_staff = profile.is_paused_by_staff or by_staff
    elif action == Action.RESUMED:
        profile.status = Status.PUBLISHED
        profile.is_paused_by_staff = False
    elif action == Action.RENEWED:
        profile.expires_at = timezone.localdate() + LISTING_PERIOD
        if not profile.is_paused_by_staff:
            profile.status = Status.PUBLISHED
    elif action == Action.RELEASED:
        profile.status = Status.RELEASED
    elif action == Action.TRANSFERRED:
        profile.status = Status.TRANSFERRED
        profile.transferred_to = transferred_to
    profile.save(
        update_fields=[
            "status",
            "is_paused_by_staff",
            "expires_at",
            "transferred_to",
            "updated_at",
        ]
    )
    if profile.status in (Status.RELEASED, Status.TRANSFERRED):
        for item in ModerationItem.objects.for_object(profile).pending():
            item.status = ModerationItem.Status.WITHDRAWN
            item.save(update_fields=["status"])
        profile_left.send(sender=InmateProfile, profile=profile)
    record_action(
        liaison,
        profile.facility,
        action,
        profile=profile,
        **(
            {"transferred_to": transferred_to.slug if transferred_to else "outside the service"}
            if action == Action.TRANSFERRED
            else {}
        ),
    )
    return profile


# --- Photos ---------------------------------------------------------------------------


class PhotoUploadError(ValidationError):
    pass


def checksum_of(uploaded_file) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
        size += len(chunk)
    uploaded_file.seek(0)
    return digest.hexdigest(), size


def check_upload_photo(liaison, profile: InmateProfile, uploaded_file) -> tuple[ProfilePhoto, bool]:
    """Store an uploaded photo's original privately and queue its processing.

    Returns (photo, created); the same file uploaded twice for one person is
    the existing photo. Content checks happen in the task (by content, not name).
    """
    ensure_editable(profile)
    if refusal := photo_refusal(uploaded_file.size):
        raise PhotoUploadError(refusal)
    checksum, size = checksum_of(uploaded_file)
    existing = ProfilePhoto.objects.filter(profile=profile, checksum=checksum).first()
    if existing is not None:
        if existing.status == ProfilePhoto.Status.FAILED:
            # "Please upload the photo again" must work: process the stored original anew.
            do_retry_photo(existing)
        return existing, False
    try:
        return do_upload_photo(liaison, profile, uploaded_file, checksum=checksum, size=size), True
    except IntegrityError:
        # A concurrent upload of the same file won the race.
        return ProfilePhoto.objects.get(profile=profile, checksum=checksum), False


@transaction.atomic
def do_upload_photo(
    liaison, profile: InmateProfile, uploaded_file, *, checksum: str, size: int
) -> ProfilePhoto:
    photo = ProfilePhoto(profile=profile, checksum=checksum, size_bytes=size, uploaded_by=liaison)
    photo.original.save("original", uploaded_file, save=False)
    try:
        with transaction.atomic():
            photo.save()
    except IntegrityError:
        photo.original.storage.delete(photo.original.name)
        raise
    record_action(liaison, profile.facility, Action.PHOTO_UPLOADED, profile=profile, photo=photo.pk)
    enqueue_on_commit("profiles.tasks.process_photo", photo.pk)
    return photo


@transaction.atomic
def do_retry_photo(photo: ProfilePhoto) -> None:
    ProfilePhoto.objects.filter(pk=photo.pk, status=ProfilePhoto.Status.FAILED).update(
        status=ProfilePhoto.Status.UPLOADED, status_reason=""
    )
    photo.refresh_from_db(fields=["status", "status_reason"])
    enqueue_on_commit("profiles.tasks.process_photo", photo.pk)


@transaction.atomic
def do_set_primary_photo(liaison, photo: ProfilePhoto) -> None:
    InmateProfile.objects.select_for_update().get(pk=photo.profile_id)
    ProfilePhoto.objects.filter(profile_id=photo.profile_id, is_primary=True).update(
        is_primary=False
    )
    ProfilePhoto.objects.filter(pk=photo.pk).update(is_primary=True)
    if photo.is_public:
        InmateProfile.objects.filter(pk=photo.profile_id).update(primary_photo=photo)
    record_action(
        liaison, photo.profile.facility, Action.PHOTO_PRIMARY, profile=photo.profile, photo=photo.pk
    )


@transaction.atomic
def do_delete_photo(liaison, photo: ProfilePhoto) -> None:
    profile = InmateProfile.objects.select_for_update().get(pk=photo.profile_id)
    withdraw_pending(photo, ModerationItem.Kind.PHOTO)
    files = [(f.storage, f.name) for f in (photo.original, photo.display, photo.thumbnail) if f]
    photo_id = photo.pk
    photo.delete()
    if profile.primary_photo_id == photo_id:
        refresh_primary_photo(profile)
    record_action(liaison, profile.facility, Action.PHOTO_DELETED, profile=profile, photo=photo_id)
    transaction.on_commit(lambda: [storage.delete(name) for storage, name in files])


def refresh_primary_photo(profile: InmateProfile) -> None:
    """Point the profile at its best public photo: the chosen primary, else the oldest."""
    public = (
        ProfilePhoto.objects.public().filter(profile=profile).order_by("-is_primary", "created_at")
    )
    InmateProfile.objects.filter(pk=profile.pk).update(primary_photo=public.first())


# --- Moderation handlers (registered in ProfilesConfig.ready) ------------------------------


def _digest(content) -> str:
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()


def profile_review_version(item: ModerationItem, *, for_update: bool = False) -> str:
    """The version of a profile under review (a new profile or a change): its
    reviewed public text and the changes waiting in `pending_changes`, all
    that the item page shows and approval publishes. With `for_update`, locks
    the profile (as do_update_profile does before refreshing the item)."""
    profiles = InmateProfile.objects.select_for_update() if for_update else InmateProfile.objects
    profile = profiles.filter(pk=item.object_id).first()
    if profile is None:
        return "gone"
    return _digest(
        {
            "public": {name: getattr(profile, name) for name in InmateProfile.REVIEWED_FIELDS},
            "pending": profile.pending_changes,
        }
    )


def photo_review_version(item: ModerationItem, *, for_update: bool = False) -> str:
    """The version of a photo under review: the uploaded file (checksum) and
    its processed variants (names and when they were made). With `for_update`,
    locks the profile and then the photo, the order of do_delete_photo."""
    photos = ProfilePhoto.objects.all()
    if for_update:
        profile_id = (
            ProfilePhoto.objects.filter(pk=item.object_id)
            .values_list("profile_id", flat=True)
            .first()
        )
        if profile_id is None:
            return "gone"
        InmateProfile.objects.select_for_update().filter(pk=profile_id).values_list("pk").first()
        photos = ProfilePhoto.objects.select_for_update()
    photo = photos.filter(pk=item.object_id).first()
    if photo is None:
        return "gone"
    return _digest(
        {
            "checksum": photo.checksum,
            "status": photo.status,
            "display": photo.display.name or "",
            "thumbnail": photo.thumbnail.name or "",
            "processed_at": photo.processed_at,
        }
    )


def approve_profile(item: ModerationItem, moderator) -> None:
    profile = InmateProfile.objects.select_for_update().get(pk=item.object_id)
    if profile.status != Status.PENDING_REVIEW:
        return
    now = timezone.now()
    profile.status = Status.PUBLISHED
    profile.published_at = profile.published_at or now
    profile.public_updated_at = now
    profile.expires_at = timezone.localdate() + LISTING_PERIOD
    profile.save(
        update_fields=["status", "published_at", "public_updated_at", "expires_at", "updated_at"]
    )


def reject_profile(item: ModerationItem, moderator) -> None:
    InmateProfile.objects.filter(pk=item.object_id, status=Status.PENDING_REVIEW).update(
        status=Status.DRAFT
    )


def approve_profile_change(item: ModerationItem, moderator) -> None:
    profile = InmateProfile.objects.select_for_update().get(pk=item.object_id)
    if not profile.pending_changes:
        return
    for name, value in profile.pending_changes.items():
        if name in InmateProfile.REVIEWED_FIELDS:
            setattr(profile, name, value)
    profile.pending_changes = {}
    profile.public_updated_at = timezone.now()
    profile.save()


def reject_profile_change(item: ModerationItem, moderator) -> None:
    InmateProfile.objects.filter(pk=item.object_id).update(pending_changes={})


def approve_photo(item: ModerationItem, moderator) -> None:
    photo = ProfilePhoto.objects.select_related("profile").get(pk=item.object_id)
    photo.review_status = ProfilePhoto.Review.APPROVED
    photo.save(update_fields=["review_status"])
    refresh_primary_photo(photo.profile)
    InmateProfile.objects.filter(pk=photo.profile_id).update(public_updated_at=timezone.now())


def reject_photo(item: ModerationItem, moderator) -> None:
    """A rejected photo keeps its private original (audit) but loses its public variants."""
    photo = ProfilePhoto.objects.select_related("profile").get(pk=item.object_id)
    public_files = [(f.storage, f.name) for f in (photo.display, photo.thumbnail) if f]
    photo.review_status = ProfilePhoto.Review.REJECTED
    photo.display = ""
    photo.thumbnail = ""
    photo.is_primary = False
    photo.save(update_fields=["review_status", "display", "thumbnail", "is_primary"])
    refresh_primary_photo(photo.profile)
    transaction.on_commit(lambda: [storage.delete(name) for storage, name in public_files])


# --- Favourites ---------------------------------------------------------------------------


def do_save_favorite(user, profile: InmateProfile) -> None:
    """Save `profile` to the user's list; saving twice is the same as once.

    The caller resolved `profile` through profiles.access.get_published_profile.
    """
    Favorite.objects.bulk_create([Favorite(user=user, profile=profile)], ignore_conflicts=True)


def do_remove_favorite(user, profile: InmateProfile) -> None:
    Favorite.objects.filter(user=user, profile=profile).delete()


# --- Expiry (beat) --------------------------------------------------------------------------


def expire_profiles() -> int:
    """Pause published profiles whose listing period ended; liaisons renew them.

    Returns how many were paused. Runs daily from beat; safe to run twice.
    """
    expired = InmateProfile.objects.published().filter(expires_at__lt=timezone.localdate())
    paused = 0
    for profile in expired.only("pk", "facility_id").iterator():
        with transaction.atomic():
            updated = InmateProfile.objects.filter(pk=profile.pk, status=Status.PUBLISHED).update(
                status=Status.PAUSED, updated_at=timezone.now()
            )
            if updated:
                record_action(
                    None, profile.facility, Action.PAUSED, profile=profile, reason="listing expired"
                )
                paused += updated
    return paused
