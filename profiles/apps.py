from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class ProfilesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "profiles"
    verbose_name = _("Facilities and profiles")

    def ready(self) -> None:
        from moderation import registry
        from moderation.models import ModerationItem

        # Importing the tasks registers them: services enqueue them by name.
        from profiles import public_cache, review, search_words, services, tasks  # noqa: F401
        from profiles.models import Facility, InmateProfile, ProfilePhoto

        public_cache.connect_signals(Facility, InmateProfile, ProfilePhoto)
        post_save.connect(search_words.on_profile_saved, sender=InmateProfile)
        post_delete.connect(search_words.on_profile_deleted, sender=InmateProfile)

        Kind = ModerationItem.Kind
        registry.register(
            Kind.PROFILE,
            on_approve=services.approve_profile,
            on_reject=services.reject_profile,
            version_of=services.profile_review_version,
        )
        registry.register(
            Kind.PROFILE_CHANGE,
            on_approve=services.approve_profile_change,
            on_reject=services.reject_profile_change,
            version_of=services.profile_review_version,
        )
        registry.register(
            Kind.PHOTO,
            on_approve=services.approve_photo,
            on_reject=services.reject_photo,
            version_of=services.photo_review_version,
        )
        review.register()

    def on_account_deleted(self, user) -> None:
        """Whom a deleted account saved is personal data: it goes with the account."""
        # apps.py loads before the models: import them when called.
        from profiles.models import Favorite

        Favorite.objects.filter(user=user).delete()

    def export_user_data(self, user) -> dict:
        """A pen pal's saved profiles (display names only)."""
        # apps.py loads before the models: import them when called.
        from profiles.models import Favorite

        return {
            "favorites": [
                {
                    "profile": favorite.profile.display_name,
                    "saved_at": favorite.created_at.isoformat(),
                }
                for favorite in Favorite.objects.filter(user=user).select_related("profile")
            ]
        }
