"""The one place that decides which facilities, profiles and photos a person may reach.

Every liaison view resolves objects through these helpers; each raises
Http404 for anything outside the liaison's facilities, so a liaison cannot
even learn that another facility's object exists.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from profiles.models import Facility, InmateProfile, ProfilePhoto


def liaison_facilities(user):
    return Facility.objects.filter(liaisons__user=user, is_active=True)


def get_facility_for_liaison(user, slug: str) -> Facility:
    return get_object_or_404(liaison_facilities(user), slug=slug)


def get_profile_for_liaison(user, pk: int) -> InmateProfile:
    return get_object_or_404(
        InmateProfile.objects.select_related("facility").filter(
            facility__in=liaison_facilities(user)
        ),
        pk=pk,
    )


def get_photo_for_liaison(user, pk: int) -> ProfilePhoto:
    return get_object_or_404(
        ProfilePhoto.objects.select_related("profile__facility").filter(
            profile__facility__in=liaison_facilities(user)
        ),
        pk=pk,
    )


def is_staff_with(user, permission: str) -> bool:
    """Staff who hold `permission` (moderators through their group, admins):
    a staff member the admin would refuse gets no private files either."""
    return user.is_staff and user.has_perm(permission)


def get_profile_for_private_file(user, pk: int) -> InmateProfile:
    """A profile whose consent form `user` may download: a liaison of its
    facility, or a superuser. Not moderators: the signed form carries the
    person's legal name, which only the facility and superusers see (the
    moderator's review says whether a liaison confirmed consent). The caller
    is behind RequireMFAMiddleware, so both have MFA."""
    if user.is_active and user.is_superuser:
        return get_object_or_404(InmateProfile.objects.select_related("facility"), pk=pk)
    return get_profile_for_liaison(user, pk)


def get_photo_for_private_file(user, pk: int) -> ProfilePhoto:
    """A photo whose private original `user` may download (as above)."""
    if is_staff_with(user, "profiles.view_profilephoto"):
        return get_object_or_404(ProfilePhoto.objects.select_related("profile__facility"), pk=pk)
    return get_photo_for_liaison(user, pk)


def is_published(slug: str) -> bool:
    """Whether the public may see the profile at `slug` (one small indexed query)."""
    return InmateProfile.objects.published().filter(slug=slug).exists()


def get_published_profile(slug: str) -> InmateProfile:
    """A profile as the public may see it: published, or 404."""
    return get_object_or_404(
        InmateProfile.objects.published().select_related("facility", "primary_photo"), slug=slug
    )
