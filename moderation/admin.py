"""The moderators' workspace in the admin.

The ModerationItem changelist is the queue: pending items by risk then age,
filters and search that stay on indexes at a million decided rows, a
preview to decide from the list, claiming, "next item", bulk decisions
through a confirmation page, and every decision kept in the item's history.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from moderation import registry
from moderation.active_rules import screen_text
from moderation.alerts import alert_text
from moderation.forms import BulkDecisionForm, DecisionForm, TryRulesForm
from moderation.labels import category_label, category_labels
from moderation.languages import LANGUAGE_NAMES
from moderation.links import admin_url
from moderation.models import ModerationItem, ScreeningRule
from moderation.paginator import EstimatedCountPaginator
from moderation.screening import Hit, highlight_segments
from moderation.services import (
    AlreadyDecided,
    StaleVersion,
    claim,
    current_version,
    do_decide,
    do_escalate,
    next_item,
)
from penpals.admin_privacy import PrivateFieldsMixin
from penpals.languages import READABLE_LANGUAGES
from penpals.text import grouped

# A confirmation page lists at most this many items; a bigger selection is
# refused rather than decided blind.
BULK_LIMIT = 500


def method_decorator_require_post(view):
    return method_decorator(require_POST)(view)


def review_context(item: ModerationItem, *, may_see_private_facts: bool) -> dict:
    """What the item page shows of the object under review, from what its app
    registered (moderation.registry.Subject): a letter's text with every hit
    highlighted, a profile's text against the approved version, a photo at
    display size; a report with what it points to."""
    target = item.content_object
    context = {"review_object": target, "review_admin_url": admin_url(target)}
    subject = registry.subject_of(target)
    if subject is not None and subject.review_context is not None:
        context.update(subject.review_context(target, item, may_see_private_facts))
    return context


def person_named_by(target) -> str:
    """The display name of the person in prison `target` (a letter, profile,
    photo or report) is about, or of a reported user: the name moderators may
    read. Never an inmate number, legal name or email."""
    subject = registry.subject_of(target)
    return subject.name_of(target) if subject is not None else ""


def _title_format(kind: str) -> str:
    # What an item is about, per kind: "Letter to Marcus" (the display name only).
    Kind = ModerationItem.Kind
    return {
        Kind.LETTER_OUT: gettext("Letter to %(name)s"),
        Kind.LETTER_IN: gettext("Letter from %(name)s"),
        Kind.PROFILE: gettext("New profile of %(name)s"),
        Kind.PROFILE_CHANGE: gettext("Profile change of %(name)s"),
        Kind.PHOTO: gettext("Photo of %(name)s"),
        Kind.REPORT: gettext("Report about %(name)s"),
    }[Kind(kind)]


def item_title(item: ModerationItem, target=None) -> str:
    """What `item` puts under review, in the words of its messages and heading:
    "Letter to Marcus", "Photo of Tasha R.". `target` is item.content_object
    (passed when the caller has it loaded). An object gone meanwhile is named
    by its kind alone."""
    name = person_named_by(target if target is not None else item.content_object)
    if not name:
        return item.get_kind_display()
    return _title_format(item.kind) % {"name": name}


def claim_words(item: ModerationItem, user) -> str:
    """Who works on the item now, in words ("" when nobody does)."""
    if not (item.claimed_by_id and item.claimed_until and item.claimed_until > timezone.now()):
        return ""
    until = formats.time_format(timezone.localtime(item.claimed_until), "TIME_FORMAT")
    if item.claimed_by_id == user.pk:
        return gettext("Claimed by you until %(time)s") % {"time": until}
    return gettext("Claimed by %(name)s until %(time)s") % {"name": item.claimed_by, "time": until}


def decided_message(item: ModerationItem, decision: str, reason_code: str = "") -> str:
    """What was just decided, in words: "Letter to Marcus approved." Never the
    item's str(), which names the status it had before the decision."""
    title = item_title(item)
    if decision == "approve":
        return gettext("%(item)s approved.") % {"item": title}
    if decision == "escalate":
        return gettext("%(item)s escalated to an admin.") % {"item": title}
    return gettext("%(item)s rejected: %(reason)s.") % {
        "item": title,
        "reason": ModerationItem.Reason(reason_code).label,
    }


# --- Filters -------------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """Pending by default: the queue, not the million decided items."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        statuses = [
            (status.value, status.label)
            for status in ModerationItem.Status
            # Escalated items wait for an admin: the filter is theirs.
            if status != ModerationItem.Status.ESCALATED or request.user.is_superuser
        ]
        return [*statuses, (self.ALL, gettext("All"))]

    def value(self):
        return super().value() or ModerationItem.Status.PENDING

    def queryset(self, request, queryset):
        if self.value() == self.ALL:
            return queryset
        if self.value() not in ModerationItem.Status.values:
            return queryset.none()
        return queryset.filter(status=self.value())

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class FlagFilter(admin.SimpleListFilter):
    title = _("flag category")
    parameter_name = "flag"

    def lookups(self, request, model_admin):
        return ScreeningRule.Category.choices

    def queryset(self, request, queryset):
        if self.value():
            # flags @> '["money"]': served by the GIN index on pending flags.
            return queryset.filter(flags__contains=[self.value()])
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = _("age")
    parameter_name = "age"
    HOURS = {"24h": 24, "72h": 72}

    def lookups(self, request, model_admin):
        return [("24h", gettext("Over 24 hours")), ("72h", gettext("Over 72 hours"))]

    def queryset(self, request, queryset):
        hours = self.HOURS.get(self.value() or "")
        if hours:
            return queryset.filter(created_at__lte=timezone.now() - timedelta(hours=hours))
        return queryset


class LanguageFilter(admin.SimpleListFilter):
    """A letter's language as screening detected it (moderation_pending_language)."""

    title = _("language")
    parameter_name = "language"
    MINE = "mine"

    def lookups(self, request, model_admin):
        return [(self.MINE, gettext("Letters in languages I read")), *READABLE_LANGUAGES]

    def queryset(self, request, queryset):
        if self.value() == self.MINE:
            return queryset.filter(language__in=request.user.languages_read)
        if self.value() in LANGUAGE_NAMES:
            return queryset.filter(language=self.value())
        return queryset


class ClaimFilter(admin.SimpleListFilter):
    title = _("claimed")
    parameter_name = "claimed"

    def lookups(self, request, model_admin):
        return [
            ("mine", gettext("By me")),
            ("others", gettext("By others")),
            ("no", gettext("Unclaimed")),
        ]

    def queryset(self, request, queryset):
        live = Q(claimed_by__isnull=False, claimed_until__gt=timezone.now())
        if self.value() == "mine":
            return queryset.filter(live, claimed_by=request.user)
        if self.value() == "others":
            return queryset.filter(live).exclude(claimed_by=request.user)
        if self.value() == "no":
            return queryset.exclude(live)
        return queryset


# --- Search --------------------------------------------------------------------------


def items_matching(term: str, *, by_private_facts: bool = False) -> Q:
    """Items whose object belongs to the inmate, pen pal or correspondence `term` names.

    By display name and correspondence code for everyone; by inmate number and
    pen pal email only with `by_private_facts` (superusers): for anyone else
    an exact match would confirm a guessed number or address.

    Items point at their object generically, so a join-based search_fields
    cannot reach an inmate number. Instead each model's app gives the
    matching object ids as an indexed subquery (moderation.registry.Subject),
    and the items are filtered by (content_type, object_id IN ...), served by
    moderation_item_object.
    """
    search = registry.StaffSearch(term, by_private_facts)
    match = Q(pk__in=[])
    for model, subject in registry.subjects():
        if subject.matching is not None:
            match |= Q(
                content_type=ContentType.objects.get_for_model(model),
                object_id__in=subject.matching(search),
            )
    return match


# --- The queue -----------------------------------------------------------------------


class QueueChangeList(ChangeList):
    def get_filters(self, request):
        # The filters sit in a bar above the list (admin_screening.css), each a
        # closed <details> naming its current choice, so the list keeps the
        # page's whole width.
        filter_specs, *rest = super().get_filters(request)
        for spec in filter_specs:
            spec.template = "admin/moderation/moderationitem/queue_filter.html"
        return (filter_specs, *rest)

    def get_results(self, request) -> None:
        super().get_results(request)
        attach_previews(self.result_list)


def attach_previews(items) -> None:
    """Give the page's items what their preview shows, one query per model
    (moderation.registry.Subject): a photo item its photo (the thumbnail), a
    letter item its screening hits."""
    for item in items:
        item.photo = None
        item.preview_hits = []
    for model, subject in registry.subjects():
        content_type_id = ContentType.objects.get_for_model(model).pk
        of_model = [item for item in items if item.content_type_id == content_type_id]
        if subject.attach_previews is not None and of_model:
            subject.attach_previews(of_model)


def preview_segments(summary: str, hits: list[dict]) -> list:
    """The summary cut at every place a hit's matched text appears in it.

    The summary is the letter's opening with its whitespace collapsed, so the
    hits' offsets in the letter do not apply: their matched text is found again.
    """
    folded = summary.casefold()
    found: list[Hit] = []
    for hit in hits:
        needle = " ".join(hit.get("match", "").split()).casefold()
        start = folded.find(needle) if needle else -1
        while start != -1 and len(found) < 50:
            found.append(Hit(hit["category"], hit["rule"], "", start, start + len(needle), needle))
            start = folded.find(needle, start + len(needle))
    return highlight_segments(summary, found)


@admin.register(ModerationItem)
class ModerationItemAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    list_display = [
        "kind_label",
        "preview",
        "flag_list",
        "risk_score",
        "facility",
        "age",
        "claim_label",
        "status",
    ]
    list_display_links = ["kind_label"]
    list_filter = [
        StatusFilter,
        "kind",
        "facility",
        FlagFilter,
        LanguageFilter,
        AgeFilter,
        ClaimFilter,
    ]
    list_select_related = ["facility", "claimed_by"]
    # A page a moderator works through before "Next item" or the next page;
    # 50 rows cost a third more time to render for no faster decisions.
    list_per_page = 25
    ordering = ["-risk_score", "created_at", "id"]
    search_fields = ["summary"]  # shows the box; get_search_results does the work
    search_help_text = _(
        "Inmate's display name or correspondence code (admins also: inmate number, pen pal email)."
    )
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # The item page is the workspace template (change_form.html), which shows
    # the item in words and decides through decide_view: no editable field,
    # no raw content type, object id or flag codes, no inline.
    readonly_fields = ("summary",)
    fields = readonly_fields
    actions = ["approve_selected", "reject_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_changelist(self, request, **kwargs):
        return QueueChangeList

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("facility", "claimed_by")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(
            items_matching(term, by_private_facts=self.may_see_private_facts(request))
        ), False

    # --- Columns ---

    def action_checkbox(self, item: ModerationItem) -> SafeString:
        # The same markup as ModelAdmin.action_checkbox (the header's
        # select-all box is keyed on this name), without rendering a form
        # widget through the template engine per row: a fifth of the page's time.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            item.pk,
            gettext("Select this object for an action - %(item)s") % {"item": item},
        )

    @admin.display(description=_("Kind"), ordering="kind")
    def kind_label(self, item: ModerationItem) -> str:
        return item.get_kind_display()

    @admin.display(description=_("Preview"))
    def preview(self, item: ModerationItem) -> str:
        photo = getattr(item, "photo", None)
        thumbnail = (
            format_html(
                '<img class="queue-thumb" src="{}" alt="{}">',
                photo.thumbnail.url,
                gettext("Photo under review"),
            )
            if photo is not None and photo.thumbnail
            else ""
        )
        text = format_html_join(
            "",
            "{}",
            (
                (
                    format_html(
                        '<mark title="{}">{}</mark>',
                        category_label(segment.hits[0].category),
                        segment.text,
                    )
                    if segment.hits
                    else segment.text,
                )
                for segment in preview_segments(item.summary, getattr(item, "preview_hits", []))
            ),
        )
        # What the machine found comes first: "Possible evasion…", "Not machine-screened…".
        alerts = format_html_join(
            "", '<strong class="queue-alert">{}</strong> ', ((alert_text(a),) for a in item.alerts)
        )
        return format_html('{}<span class="queue-preview">{}{}</span>', thumbnail, alerts, text)

    @admin.display(description=_("Flags"))
    def flag_list(self, item: ModerationItem) -> str:
        return format_html_join(
            " ",
            '<span class="queue-flag">{}</span>',
            ((label,) for label in category_labels(item.flags)),
        )

    @admin.display(
        description=pgettext_lazy("how long an item has waited", "Age"), ordering="created_at"
    )
    def age(self, item: ModerationItem) -> str:
        # Whole hours and days: what a queue needs, at a fraction of timesince's cost.
        hours = int((timezone.now() - item.created_at).total_seconds() // 3600)
        if hours < 1:
            return gettext("under an hour")
        if hours < 48:
            return ngettext("%(count)s hour", "%(count)s hours", hours) % {"count": hours}
        days = hours // 24
        return ngettext("%(count)s day", "%(count)s days", days) % {"count": grouped(days)}

    @admin.display(description=_("Claimed by"))
    def claim_label(self, item: ModerationItem) -> str:
        if item.claimed_by_id and item.claimed_until and item.claimed_until > timezone.now():
            until = formats.time_format(timezone.localtime(item.claimed_until), "TIME_FORMAT")
            return gettext("%(name)s until %(time)s") % {"name": item.claimed_by, "time": until}
        return ""

    # --- Views ---

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<int:item_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name=f"{info}_decide",
            ),
            path("next/", self.admin_site.admin_view(self.next_view), name=f"{info}_next"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "has_change_permission": self.has_change_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            # Nothing on an item is edited: decisions go through decide_view.
            return HttpResponseNotAllowed(["GET"])
        item = self.get_object(request, object_id)
        extra_context = {**(extra_context or {})}
        if item is not None:
            # The version before the content: an edit landing in between makes
            # the decision stale (refused), never approves text not shown.
            decision_form = DecisionForm(initial={"seen_version": current_version(item)})
            extra_context.update(
                review_context(item, may_see_private_facts=self.may_see_private_facts(request))
            )
            extra_context.update(self.workspace_context(request, item))
            may_decide = self.has_change_permission(request, item)
            if may_decide and item.status == ModerationItem.Status.PENDING:
                if not claim(item, request.user):
                    extra_context["claimed_by_other"] = item
                extra_context["decision_form"] = decision_form
            elif may_decide and item.status == ModerationItem.Status.ESCALATED:
                if request.user.is_superuser:
                    extra_context["decision_form"] = decision_form
            extra_context["claim_label"] = claim_words(item, request.user)
        return super().change_view(request, object_id, form_url, extra_context)

    def workspace_context(self, request, item: ModerationItem) -> dict:
        """The item page's words: its title (also the page's), its history,
        the previous item to go back to."""
        target = item.content_object
        title = item_title(item, target)
        previous = request.GET.get("from", "")
        context = {
            "title": title,
            "subtitle": "",
            "item_title": title,
            "decisions": list(item.decisions.select_related("moderator")),
            "flag_words": category_labels(item.flags),
            "reasons": ModerationItem.Reason.choices,
            "previous_item_url": (
                reverse("admin:moderation_moderationitem_change", args=[previous])
                if previous.isdigit() and int(previous) != item.pk
                else ""
            ),
            "has_next_permission": self.has_change_permission(request),
        }
        return context

    @method_decorator_require_post
    def next_view(self, request):
        """Claim the highest-priority item nobody else works on and open it."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        return self.open_next_item(request, came_from=request.POST.get("from", ""))

    def open_next_item(self, request, *, came_from=""):
        """Claim the next item and open it (remembering the item the moderator
        came from, for "Previous item"), or say the queue is empty."""
        leaving_id = int(came_from) if str(came_from).isdigit() else None
        item = next_item(request.user, leaving_id=leaving_id)
        if item is None:
            self.message_user(
                request, gettext("The queue is empty: nothing left to claim."), messages.INFO
            )
            return redirect(reverse("admin:moderation_moderationitem_changelist"))
        url = reverse("admin:moderation_moderationitem_change", args=[item.pk])
        return redirect(f"{url}?from={leaving_id}" if leaving_id is not None else url)

    @method_decorator_require_post
    def decide_view(self, request, item_id: int):
        """Decide the item, say what was decided, and open the next item."""
        item = get_object_or_404(ModerationItem, pk=item_id)
        if not self.has_change_permission(request, item):
            raise PermissionDenied
        change_url = reverse("admin:moderation_moderationitem_change", args=[item.pk])
        form = DecisionForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    self.message_user(request, str(error), messages.ERROR)
            return redirect(change_url)
        decision = form.cleaned_data["decision"]
        reason_code = form.cleaned_data["reason_code"]
        try:
            if decision == "escalate":
                do_escalate(item.pk, request.user, note=form.cleaned_data["note"])
            else:
                approve = decision == "approve"
                do_decide(
                    item.pk,
                    request.user,
                    approve=approve,
                    seen_version=form.cleaned_data["seen_version"],
                    reason_code="" if approve else reason_code,
                    note="" if approve else form.cleaned_data["note"],
                )
        except StaleVersion as exc:
            # Back to the item page, which shows the new version to decide on.
            self.message_user(request, str(exc), messages.ERROR)
            return redirect(change_url)
        except (AlreadyDecided, ValidationError) as exc:
            self.message_user(
                request, " ".join(getattr(exc, "messages", [str(exc)])), messages.ERROR
            )
            return redirect(change_url)
        self.message_user(request, decided_message(item, decision, reason_code), messages.SUCCESS)
        return self.open_next_item(request, came_from=item.pk)

    # --- Bulk decisions ---

    @admin.action(description=_("Approve selected items…"), permissions=["change"])
    def approve_selected(self, request, queryset):
        return self._bulk_decide(request, queryset, approve=True)

    @admin.action(description=_("Reject selected items…"), permissions=["change"])
    def reject_selected(self, request, queryset):
        return self._bulk_decide(request, queryset, approve=False)

    def _bulk_decide(self, request, queryset, *, approve: bool):
        """First POST shows the confirmation page (with the reason for a
        rejection); its POST (with "confirm") decides each item through
        do_decide, so an item decided meanwhile is reported, not decided twice."""
        items = list(queryset.select_related("facility").order_by(*self.ordering)[: BULK_LIMIT + 1])
        if len(items) > BULK_LIMIT:
            self.message_user(
                request,
                gettext("Select at most %(limit)s items for a bulk decision.")
                % {"limit": BULK_LIMIT},
                messages.ERROR,
            )
            return None
        confirmed = "confirm" in request.POST
        form = BulkDecisionForm(request.POST if confirmed else None, is_rejection=not approve)
        if confirmed and form.is_valid():
            # Selected items the list no longer shows (decided meanwhile) are
            # reported rather than silently dropped.
            selected = set(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))
            if request.POST.get("select_across") != "1" and len(selected) > len(items):
                self.message_user(
                    request,
                    gettext(
                        "%(count)s selected item(s) were already decided "
                        "and were left as they were."
                    )
                    % {"count": len(selected) - len(items)},
                    messages.WARNING,
                )
            self._decide_all(request, items, approve=approve, form=form)
            return None
        for item in items:
            # What the page shows of each item is its summary, refreshed with
            # every edit: a version read now is the version confirmed.
            item.seen_version = current_version(item)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Approve these items?") if approve else gettext("Reject these items?"),
            "items": items,
            "form": form,
            "approve": approve,
            "action_name": "approve_selected" if approve else "reject_selected",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/moderation/moderationitem/bulk_decide.html", context
        )

    def _decide_all(self, request, items, *, approve: bool, form: BulkDecisionForm) -> None:
        decided, refused = 0, []
        for item in items:
            try:
                do_decide(
                    item.pk,
                    request.user,
                    approve=approve,
                    # An item the confirmation page did not list (a "select
                    # all" that grew meanwhile) has no version: refused as stale.
                    seen_version=request.POST.get(f"seen_version_{item.pk}", ""),
                    reason_code=form.cleaned_data.get("reason_code", ""),
                    note=form.cleaned_data.get("note", ""),
                )
                decided += 1
            except (AlreadyDecided, StaleVersion, ValidationError) as exc:
                # Not str(item): this copy still says "Pending".
                label = item_title(item)
                refused.append(f"{label}: {' '.join(getattr(exc, 'messages', [str(exc)]))}")
        done = (
            gettext("Approved %(count)s item(s).")
            if approve
            else gettext("Rejected %(count)s item(s).")
        )
        self.message_user(request, done % {"count": decided}, messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                gettext("Left %(count)s item(s) as they were: %(reasons)s")
                % {"count": len(refused), "reasons": "; ".join(refused)},
                messages.WARNING,
            )


@admin.register(ScreeningRule)
class ScreeningRuleAdmin(PrivateFieldsMixin, admin.ModelAdmin):
    """Screening rules, for admins only.

    A rule changes what every letter is held for, so moderators (who work the
    queue) cannot see or edit rules; superusers can. The model's clean()
    compiles the pattern with RE2, so the form refuses a pattern RE2 cannot
    compile and shows RE2's reason beside the field.
    """

    list_display = ["name", "category", "language", "pattern_type", "action", "scope", "facility", "is_active", "updated_at"]  # fmt: skip
    list_filter = [
        "category",
        "language",
        "action",
        "scope",
        "pattern_type",
        "is_active",
        "facility",
    ]
    list_select_related = ["facility"]
    search_fields = ["name", "pattern"]
    readonly_fields = ["created_at", "updated_at"]
    fields = [
        "name", "category", "language", "pattern_type", "pattern", "action", "scope", "facility",
        "is_active", "created_at", "updated_at",
    ]  # fmt: skip

    def _is_admin(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self._is_admin(request)

    def has_add_permission(self, request) -> bool:
        return self._is_admin(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._is_admin(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._is_admin(request)

    def get_urls(self):
        # Before the default URLs: their "<path:object_id>/" would catch "try/".
        try_rules = path(
            "try/",
            self.admin_site.admin_view(self.try_rules_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_try",
        )
        return [try_rules, *super().get_urls()]

    def try_rules_view(self, request):
        """Screen pasted text against the active database rules, as
        `screen --rules db` does, and show the hits. Changes nothing, so
        anyone who may view the rules may use it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TryRulesForm(request.POST if request.method == "POST" else None)
        result = segments = None
        if form.is_valid():
            text = form.cleaned_data["text"]
            facility = form.cleaned_data["facility"]
            result = screen_text(
                text,
                scope=form.cleaned_data["scope"],
                facility_id=facility.pk if facility else None,
            )
            segments = highlight_segments(text, result.hits)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Try the screening rules"),
            "form": form,
            "result": result,
            "segments": segments,
        }
        return TemplateResponse(request, "admin/moderation/screeningrule/try_rules.html", context)
