from django.contrib import admin

from profiles.models import Facility, FacilityLiaison


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
