from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from penpals.admin_privacy import PrivateFieldsMixin, declare_private_fields
from profiles.models import Facility, FacilityLiaison, InmateProfile, LiaisonAction, ProfilePhoto
from profiles.protection import resume_profile

# Only superusers (and, in the portal, the facility's liaisons) see these: the
# admin neither shows nor filters, searches or sorts on them for moderators.
declare_private_fields(
    InmateProfile, "legal_name", "date_of_birth", "inmate_number", "consent_form"
)
declare_private_fields(ProfilePhoto, "original")


class FacilityLiaisonInline(PrivateFieldsMixin, admin.TabularInline):
    model = FacilityLiaison
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Facility)
class FacilityAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "state", "screening_mode", "is_active"]
    list_filter = ["kind", "state", "screening_mode", "is_active"]
    search_fields = ["name", "slug"]
    ordering = ["name", "pk"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [FacilityLiaisonInline]


@admin.register(FacilityLiaison)
class FacilityLiaisonAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    list_display = ["user", "facility", "created_at"]
    list_select_related = ["user", "facility"]
    autocomplete_fields = ["user", "facility"]
    search_fields = ["user__email", "user__display_name", "facility__name"]
    ordering = ["-created_at", "-pk"]


@admin.register(InmateProfile)
class InmateProfileAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    list_display = [
        "display_name",
        "facility",
        "status",
        "is_accepting_letters",
        "published_at",
        "expires_at",
    ]
    list_filter = ["status", "facility", "is_accepting_letters"]
    list_select_related = ["facility"]
    # inmate_number: for superusers only (PrivateFieldsMixin drops it for others).
    search_fields = ["display_name", "slug", "inmate_number"]
    # The autocomplete pages through this list: a stable order (newest first,
    # as the changelist showed by default).
    ordering = ["-pk"]
    # Uploaded in the liaison portal, with its confirmation. Private storage has
    # no URL, so a file widget here would fail: admins get a download link instead.
    exclude = ["consent_form"]
    readonly_fields = [
        "search_vector",
        "pending_changes",
        "consent_confirmed_by",
        "consent_confirmed_at",
        "primary_photo",
    ]
    show_full_result_count = False  # no COUNT(*) of a large table on every page
    actions = ["resume_paused_profiles"]
    # On the read-only page (moderators), each list of codes is shown as its
    # labels in the reader's language, in the list's place.
    LABELLED = {"seeking": "seeking_list", "languages": "language_list"}

    def has_resume_permission(self, request) -> bool:
        # The staff who pause (acting on reports and protection requests) resume.
        return request.user.has_perm("moderation.change_moderationitem")

    @admin.action(description=_("Resume the selected paused profiles"), permissions=["resume"])
    def resume_paused_profiles(self, request, queryset) -> None:
        # Only staff lift a pause staff made (a protection request, a report).
        resumed = 0
        for profile in queryset.filter(status=InmateProfile.Status.PAUSED)[:100]:
            try:
                resume_profile(profile, request.user)
            except ValidationError as error:
                self.message_user(
                    request, f"{profile.display_name}: {' '.join(error.messages)}", "error"
                )
            else:
                resumed += 1
        self.message_user(
            request,
            ngettext("Resumed %(count)s profile.", "Resumed %(count)s profiles.", resumed)
            % {"count": resumed},
        )

    def get_readonly_fields(self, request, obj=None):
        # The private fields themselves are left out for moderators by PrivateFieldsMixin.
        readonly = super().get_readonly_fields(request, obj)
        if self.may_see_private_facts(request):
            readonly = [*readonly, "consent_form_download"]
        if self._is_read_only(request, obj):
            readonly = [*readonly, *self.LABELLED.values()]
        return readonly

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if not self._is_read_only(request, obj):
            return fields
        return list(dict.fromkeys(self.LABELLED.get(name, name) for name in fields))

    def _is_read_only(self, request, obj) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    @admin.display(description=_("seeking"))
    def seeking_list(self, profile: InmateProfile) -> str:
        return ", ".join(profile.seeking_labels())

    @admin.display(description=_("languages"))
    def language_list(self, profile: InmateProfile) -> str:
        return ", ".join(profile.language_labels())

    @admin.display(description=_("consent form"))
    def consent_form_download(self, profile: InmateProfile) -> str:
        if not profile.consent_form:
            return "-"
        url = reverse("liaison:consent_download", args=[profile.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Download"))


@admin.register(ProfilePhoto)
class ProfilePhotoAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "profile",
        "status",
        "review_status",
        "is_primary",
        "size_bytes",
        "created_at",
    ]
    list_filter = ["status", "review_status"]
    list_select_related = ["profile"]
    readonly_fields = ["checksum", "size_bytes", "width", "height", "processed_at", "status_reason"]
    exclude = ["original"]  # private: served through an access-checked view only
    raw_id_fields = ["profile", "uploaded_by"]

    @admin.display(description=_("ID"), ordering="pk")
    def number(self, photo: ProfilePhoto) -> int:
        return photo.pk


@admin.register(LiaisonAction)
class LiaisonActionAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    list_display = ["created_at", "actor", "facility", "profile", "kind"]
    list_filter = ["kind", "facility"]
    list_select_related = ["actor", "facility", "profile"]
    readonly_fields = ["created_at", "actor", "facility", "profile", "kind", "detail"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
