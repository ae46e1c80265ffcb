"""Admins of reports, no-contact orders, protection requests and writing
suspensions: what staff do about what people tell them.

Imported by ModerationConfig.ready(). The actions that change something
outside this app (pause a profile, suspend a writer, close a correspondence,
record an order) go through moderation.protection. Moderators act when they
may decide queue items ("change moderation item"); what they may see and add
here comes from the Moderators group (migration 0008).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from moderation import protection, registry
from moderation.links import admin_link
from moderation.models import (
    ModerationItem,
    NoContactOrder,
    ProtectionRequest,
    Report,
    WritingSuspension,
)
from moderation.safety_forms import SuspensionReasonForm
from penpals.admin_privacy import PrivateFieldsMixin
from penpals.text import end_sentence

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

# Most targets one action works through: each is its own transaction.
ACTION_LIMIT = 100


def target_label(target) -> str:
    """What a reported thing is called in the admin: never an inmate number or
    legal name (moderators do not see those)."""
    if target is None:
        return gettext("(deleted)")
    subject = registry.subject_of(target)
    if subject is not None and subject.label_of is not None:
        return subject.label_of(target)
    # Translators: a reported thing by its kind and number: "Letter #11".
    return gettext("%(kind)s #%(number)s") % {
        "kind": capfirst(target._meta.verbose_name),
        "number": target.pk,
    }


def has_act_permission(request) -> bool:
    """Acting on what is reported is part of deciding queue items."""
    return request.user.has_perm("moderation.change_moderationitem")


def report_errors(modeladmin, request, label: str, error: Exception) -> None:
    text = " ".join(getattr(error, "messages", [str(error)]))
    modeladmin.message_user(request, f"{label}: {text}", messages.ERROR)


# --- Reports ------------------------------------------------------------------------------


class ReviewOfReport(TypedDict):
    """What ReportAdmin.get_queryset annotates each report with: its latest review."""

    item_status: str | None
    item_id: int | None


class ItemStatusFilter(admin.SimpleListFilter):
    title = _("review status")
    parameter_name = "item_status"

    def lookups(self, request, model_admin):
        return ModerationItem.Status.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(item_status=self.value())
        return queryset


@admin.register(Report)
class ReportAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    list_display = ["__str__", "reason", "target_kind", "target_link", "reporter_name", "created_at", "review_status"]  # fmt: skip
    list_filter = [ItemStatusFilter, "reason", ("content_type", admin.RelatedOnlyFieldListFilter), "created_at"]  # fmt: skip
    search_fields = ["details", "reporter__display_name"]
    date_hierarchy = "created_at"
    # A tuple, so the one sequence fits both attributes' types.
    readonly_fields = ("reason", "target_kind", "target_link", "reporter_name", "details", "created_at", "review_link")  # fmt: skip
    fields = readonly_fields
    actions = ["pause_target_profile", "suspend_target_writer", "close_target_correspondence"]
    show_full_result_count = False

    def get_queryset(self, request):
        # The status of each report's review, in the same query: one column,
        # no query per row.
        report_type = ContentType.objects.get_for_model(Report)
        review = ModerationItem.objects.filter(
            content_type=report_type, object_id=OuterRef("pk"), kind=ModerationItem.Kind.REPORT
        ).order_by("-created_at")
        return (
            super()
            .get_queryset(request)
            .select_related("reporter", "content_type")
            .prefetch_related("target")
            .annotate(
                item_status=Subquery(review.values("status")[:1]),
                item_id=Subquery(review.values("pk")[:1]),
            )
        )

    def has_add_permission(self, request) -> bool:
        return False  # people report from the site

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a report is a record; what is done about it is an action

    def has_act_permission(self, request) -> bool:
        return has_act_permission(request)

    @admin.display(description=_("target kind"), ordering="content_type__model")
    def target_kind(self, report: Report) -> str:
        return report.content_type.name

    @admin.display(description=_("target"))
    def target_link(self, report: Report) -> str:
        return (
            admin_link(report.target, target_label(report.target))
            if report.target
            else gettext("(deleted)")
        )

    @admin.display(description=_("reporter"), ordering="reporter__display_name")
    def reporter_name(self, report: Report) -> str:
        return report.reporter.public_name if report.reporter else gettext("(deleted account)")

    @admin.display(description=_("review"))
    def review_status(self, report: WithAnnotations[Report, ReviewOfReport]) -> str:
        if not report.item_status:
            return "—"
        return str(ModerationItem.Status(report.item_status).label)

    @admin.display(description=_("review"))
    def review_link(self, report: WithAnnotations[Report, ReviewOfReport]) -> str:
        if not report.item_id:
            return "—"
        url = reverse("admin:moderation_moderationitem_change", args=[report.item_id])
        return format_html('<a href="{}">{}</a>', url, self.review_status(report))

    def _targets(self, request, queryset):
        reports = list(queryset[: ACTION_LIMIT + 1])
        if len(reports) > ACTION_LIMIT:
            self.message_user(
                request,
                gettext("Select at most %(limit)s reports at a time.") % {"limit": ACTION_LIMIT},
                messages.ERROR,
            )
            return []
        return reports

    def _close_review(self, report: Report, staff, note: str) -> None:
        protection.close_pending_review(report, staff, note)

    @admin.action(description=_("Pause the reported profile"), permissions=["act"])
    def pause_target_profile(self, request, queryset) -> None:
        paused = 0
        for report in self._targets(request, queryset):
            profile = protection.profile_of(report.target)
            if profile is None:
                self.message_user(
                    request,
                    gettext("%(report)s: it is not about a profile.") % {"report": report},
                    messages.WARNING,
                )
                continue
            try:
                protection.pause_profile(profile, request.user)
            except ValidationError as error:
                report_errors(self, request, str(report), error)
                continue
            self._close_review(
                report, request.user, f"Paused profile {end_sentence(profile.display_name)}"
            )
            paused += 1
        if paused:
            self.message_user(
                request,
                gettext("Paused the profile of %(count)s report(s).") % {"count": paused},
                messages.SUCCESS,
            )

    @admin.action(description=_("Suspend the reported pen pal from writing…"), permissions=["act"])
    def suspend_target_writer(self, request, queryset):
        reports = self._targets(request, queryset)
        if not reports:
            return None
        confirmed = "confirm" in request.POST
        form = SuspensionReasonForm(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            suspended = 0
            for report in reports:
                writer = protection.writer_of(report.target)
                if writer is None:
                    self.message_user(
                        request,
                        gettext("%(report)s: no pen pal wrote what it points to.")
                        % {"report": report},
                        messages.WARNING,
                    )
                    continue
                try:
                    protection.check_suspend_writer(
                        writer, request.user, f"{report}: {form.cleaned_data['reason']}"
                    )
                except ValidationError as error:
                    report_errors(self, request, str(report), error)
                    continue
                self._close_review(
                    report, request.user, gettext_noop("Writer suspended from writing.")
                )
                suspended += 1
            if suspended:
                self.message_user(
                    request,
                    gettext(
                        "Suspended the writer of %(count)s report(s). What they already sent "
                        "stays visible to staff."
                    )
                    % {"count": suspended},
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Suspend these pen pals from writing?"),
            "reports": reports,
            "form": form,
            "action_name": "suspend_target_writer",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/moderation/report/suspend_writer.html", context)

    @admin.action(description=_("Close the reported correspondence"), permissions=["act"])
    def close_target_correspondence(self, request, queryset) -> None:
        closed = 0
        for report in self._targets(request, queryset):
            correspondence = protection.correspondence_of(report.target)
            if correspondence is None:
                self.message_user(
                    request,
                    gettext("%(report)s: it is not about a correspondence.") % {"report": report},
                    messages.WARNING,
                )
                continue
            protection.do_close_correspondence(correspondence)
            self._close_review(report, request.user, f"Closed correspondence {correspondence}.")
            closed += 1
        if closed:
            self.message_user(
                request,
                gettext("Closed %(count)s correspondence(s).") % {"count": closed},
                messages.SUCCESS,
            )


# --- No-contact orders ---------------------------------------------------------------------


@admin.register(NoContactOrder)
class NoContactOrderAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    list_display = ["__str__", "profile_name", "facility", "name", "email", "is_active", "created_by", "created_at"]  # fmt: skip
    list_filter = ["is_active"]
    list_select_related = ["profile__facility", "created_by"]
    # Moderators see each order's name and email (they record and check
    # orders), but find one by the whole address, not by guessing its start.
    # The inmate number is searched by superusers only (PrivateFieldsMixin).
    search_fields = ["=email", "name", "=profile__inmate_number", "profile__display_name"]
    raw_id_fields = ["profile"]
    fields = ["profile", "name", "email", "note", "is_active", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]
    show_full_result_count = False

    @admin.display(description=_("profile"), ordering="profile__display_name")
    def profile_name(self, order: NoContactOrder) -> str:
        return order.profile.display_name

    @admin.display(description=_("facility"), ordering="profile__facility__name")
    def facility(self, order: NoContactOrder) -> str:
        return order.profile.facility.name

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if obj.is_active:
            protection.enforce_order_now(obj)


# --- Protection requests -------------------------------------------------------------------


@admin.register(ProtectionRequest)
class ProtectionRequestAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    list_display = ["__str__", "ask", "relationship", "about", "status", "created_at"]
    list_filter = ["status", "ask", "relationship"]
    list_select_related = ["profile__facility"]
    # Whole addresses only, as for orders; the inmate number for superusers only.
    search_fields = ["=requester_email", "requester_name", "protected_name", "=protected_email", "profile_description", "profile__display_name", "=profile__inmate_number"]  # fmt: skip
    raw_id_fields = ["profile"]
    fields = [
        "status", "profile", "profile_description", "relationship", "ask", "requester_name",
        "requester_email", "protected_name", "protected_email", "details", "no_contact_order",
        "resolved_by", "resolved_at", "created_at",
    ]  # fmt: skip
    actions = ["grant_no_contact_order", "pause_requested_profile", "dismiss_requests"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # Staff may only choose the profile (for a request that named none);
        # what the requester said stays as they said it.
        return [name for name in self.fields if name != "profile"]

    def has_add_permission(self, request) -> bool:
        return False  # requests come from the public page

    def has_act_permission(self, request) -> bool:
        return has_act_permission(request)

    def has_order_permission(self, request) -> bool:
        return has_act_permission(request) and request.user.has_perm(
            "moderation.add_nocontactorder"
        )

    @admin.display(description=_("about"))
    def about(self, protection_request: ProtectionRequest) -> str:
        if protection_request.profile is not None:
            profile = protection_request.profile
            return f"{profile.display_name} ({profile.facility.name})"
        return protection_request.profile_description

    def _each(self, request, queryset, step, done: str) -> None:
        count = 0
        for protection_request in queryset.select_related("profile")[:ACTION_LIMIT]:
            try:
                step(protection_request, request.user)
            except ValidationError as error:
                report_errors(self, request, str(protection_request), error)
                continue
            count += 1
        if count:
            self.message_user(
                request,
                gettext("%(done)s: %(count)s request(s).") % {"done": done, "count": count},
                messages.SUCCESS,
            )

    @admin.action(
        description=_("Record a no-contact order from the request"), permissions=["order"]
    )
    def grant_no_contact_order(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            protection.do_grant_no_contact_order,
            gettext("No-contact order recorded"),
        )

    @admin.action(description=_("Pause the profile named in the request"), permissions=["act"])
    def pause_requested_profile(self, request, queryset) -> None:
        self._each(
            request, queryset, protection.do_pause_requested_profile, gettext("Profile paused")
        )

    @admin.action(description=_("Dismiss the request"), permissions=["act"])
    def dismiss_requests(self, request, queryset) -> None:
        self._each(
            request, queryset, protection.do_dismiss_protection_request, gettext("Dismissed")
        )


# --- Writing suspensions -------------------------------------------------------------------


@admin.register(WritingSuspension)
class WritingSuspensionAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    list_display = ["__str__", "user", "created_by", "created_at", "lifted_at"]
    list_filter = [("lifted_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user", "created_by"]
    search_fields = ["user__email", "user__display_name"]
    raw_id_fields = ["user"]
    actions = ["lift_selected"]
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "reason"]
        return ["user", "reason", "created_by", "created_at", "lifted_at", "lifted_by"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["user", "created_by", "created_at", "lifted_at", "lifted_by"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # lift instead: the record of the suspension stays

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            if obj.user.is_staff or obj.user.is_superuser:
                # Reached only by a hand-made POST: the form below refuses staff.
                raise ValidationError(gettext("Staff accounts cannot be suspended from writing."))
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:

            class SuspensionForm(form):
                def clean_user(self):
                    user = self.cleaned_data["user"]
                    if user.is_staff or user.is_superuser:
                        raise ValidationError(
                            gettext("Staff accounts cannot be suspended from writing.")
                        )
                    # The form leaves out lifted_at, so Django skips the partial
                    # unique constraint's check: make it here.
                    if WritingSuspension.objects.active().filter(user=user).exists():
                        raise ValidationError(
                            gettext("This person is already suspended from writing.")
                        )
                    return user

            return SuspensionForm
        return form

    @admin.action(description=_("Lift the selected suspensions"), permissions=["change"])
    def lift_selected(self, request, queryset) -> None:
        lifted = sum(
            protection.do_lift_suspension(suspension, request.user)
            for suspension in queryset[:ACTION_LIMIT]
        )
        self.message_user(
            request,
            gettext("Lifted %(count)s suspension(s).") % {"count": lifted},
            messages.SUCCESS,
        )
