from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from moderation.protection import resume_profile
from profiles.models import Facility, FacilityLiaison, InmateProfile, LiaisonAction, ProfilePhoto


class FacilityLiaisonInline(admin.TabularInline):
    model = FacilityLiaison
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "state", "screening_mode", "is_active"]
    list_filter = ["kind", "state", "screening_mode", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [FacilityLiaisonInline]


@admin.register(FacilityLiaison)
class FacilityLiaisonAdmin(admin.ModelAdmin):
    list_display = ["user", "facility", "created_at"]
    list_select_related = ["user", "facility"]
    autocomplete_fields = ["user", "facility"]
    search_fields = ["user__email", "facility__name"]


# Fields only admins see: private data of the person listed.
PRIVATE_PROFILE_FIELDS = ["legal_name", "date_of_birth"]


@admin.register(InmateProfile)
class InmateProfileAdmin(admin.ModelAdmin):
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
    search_fields = ["display_name", "slug", "inmate_number"]
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

    def has_resume_permission(self, request) -> bool:
        # The staff who pause (acting on reports and protection requests) resume.
        return request.user.has_perm("moderation.change_moderationitem")

    @admin.action(description="Resume the selected paused profiles", permissions=["resume"])
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
        self.message_user(request, f"Resumed {resumed} profile(s).")

    def get_exclude(self, request, obj=None):
        # Moderators review public text; the private fields are for admins and printed mail.
        return self.exclude if request.user.is_superuser else self.exclude + PRIVATE_PROFILE_FIELDS

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return [*self.readonly_fields, "consent_form_download"]
        return self.readonly_fields

    @admin.display(description="consent form")
    def consent_form_download(self, profile: InmateProfile) -> str:
        if not profile.consent_form:
            return "-"
        url = reverse("liaison:consent_download", args=[profile.pk])
        return format_html('<a href="{}">Download</a>', url)


@admin.register(ProfilePhoto)
class ProfilePhotoAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
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


@admin.register(LiaisonAction)
class LiaisonActionAdmin(admin.ModelAdmin):
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
