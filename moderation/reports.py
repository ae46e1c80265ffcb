"""Reports: a person tells the Penpals team that something worries them.

A report can be about anything with a primary key (a letter, a profile, a
user). Each report opens its own moderation item (kind "report") so a
moderator sees it in the queue with the reason; what staff then do to the
reported thing is decided there.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import formats
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from moderation import registry
from moderation.alerts import REPORTED_TIMES, alert
from moderation.links import admin_url
from moderation.models import ModerationItem, Report, ScreeningRule
from moderation.services import submit_for_review
from penpals.text import grouped

REPORT_DETAILS_MAX_LENGTH = 4000

# A first report is worth a look; each further report of the same thing by
# someone else moves it up the queue.
REPORT_RISK = 50
REPORT_RISK_PER_EARLIER_REPORT = 10
REPORT_RISK_MAX = 90

# How to find the facility a reported thing belongs to, tried in order:
# a profile has one, a photo through its profile, a letter through its
# correspondence. A thing with none (a user) goes to the global queue.
FACILITY_PATHS = ("facility", "profile.facility", "correspondence.profile.facility")


class ReportRefused(ValidationError):
    """Why a report was not recorded; the message is shown to the reporter."""


class AlreadyReported(ReportRefused):
    pass


def facility_of(target):
    for path in FACILITY_PATHS:
        value = target
        for attribute in path.split("."):
            value = getattr(value, attribute, None)
            if value is None:
                break
        if value is not None:
            return value
    return None


def already_reported_message(report: Report) -> str:
    day = formats.date_format(report.created_at, "DATE_FORMAT")
    return gettext(
        "You already reported this on %(day)s. The Penpals team will look at it; "
        "reporting it again does not change its place in the queue."
    ) % {"day": day}


def existing_report(reporter, target) -> Report | None:
    return Report.objects.filter(
        reporter=reporter,
        content_type=ContentType.objects.get_for_model(target),
        object_id=target.pk,
    ).first()


def check_report(reporter, target, reason: str, details: str = "") -> Report:
    """Record `reporter`'s report of `target` and put it in the moderation queue,
    or raise ReportRefused saying why not.

    The caller has checked that `reporter` may see `target` (the view's
    access helper): this function trusts it. One report per person and thing.
    """
    if reason not in Report.Reason.values:
        raise ReportRefused(gettext("Choose the reason that fits best."))
    details = details.replace("\x00", "").strip()
    if len(details) > REPORT_DETAILS_MAX_LENGTH:
        raise ReportRefused(
            gettext("Please keep the details under %(limit)s characters.")
            % {"limit": grouped(REPORT_DETAILS_MAX_LENGTH)}
        )
    with transaction.atomic():
        earlier = existing_report(reporter, target)
        if earlier is not None:
            raise AlreadyReported(already_reported_message(earlier))
        try:
            # A savepoint: two submits at the same moment meet the unique
            # constraint, and the loser is told it was already reported.
            with transaction.atomic():
                report = do_report(reporter, target, reason, details)
        except IntegrityError:
            earlier = existing_report(reporter, target)
            if earlier is None:
                raise
            raise AlreadyReported(already_reported_message(earlier)) from None
    return report


class ReportForm(forms.Form):
    """What a person says when reporting something: the question names the
    thing ("What is wrong with this letter?"), the note who is not told."""

    reason = forms.ChoiceField(choices=Report.Reason.choices, widget=forms.RadioSelect)
    details = forms.CharField(
        label=_("Anything else we should know (optional)"),
        required=False,
        max_length=REPORT_DETAILS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def __init__(self, *args, question: str, privacy_note: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = question
        self.fields["details"].help_text = gettext("Only the Penpals team reads this. %(note)s") % {
            "note": privacy_note
        }


def file_report(form: ReportForm, reporter, target) -> bool:
    """Record the report a bound `form` describes; False, with the reason among
    the form's errors, when the form is invalid or the report is refused."""
    if not form.is_valid():
        return False
    try:
        check_report(reporter, target, form.cleaned_data["reason"], form.cleaned_data["details"])
    except ReportRefused as refused:
        form.add_error(None, refused.messages)
        return False
    return True


def do_report(reporter, target, reason: str, details: str) -> Report:
    content_type = ContentType.objects.get_for_model(target)
    report = Report.objects.create(
        reporter=reporter,
        content_type=content_type,
        object_id=target.pk,
        reason=reason,
        details=details,
    )
    earlier_reports = (
        Report.objects.filter(content_type=content_type, object_id=target.pk)
        .exclude(pk=report.pk)
        .count()
    )
    risk = min(REPORT_RISK_MAX, REPORT_RISK + REPORT_RISK_PER_EARLIER_REPORT * earlier_reports)
    flag = reason if reason in ScreeningRule.Category.values else ScreeningRule.Category.OTHER
    # The reporter's own words; the reason and what was reported are shown,
    # worded for the moderator, on the item's page.
    submit_for_review(
        report,
        ModerationItem.Kind.REPORT,
        facility=facility_of(target),
        summary=" ".join(details.split()),
        alerts=[alert(REPORTED_TIMES, count=earlier_reports + 1)] if earlier_reports else [],
        risk_score=risk,
        flags=[flag],
    )
    return report


# --- Moderation handlers (registered in ModerationConfig.ready) ---------------------------
# Deciding a report records the decision on its item (who, when, why) and
# nothing more for now: "approve" means the team acted on it, "reject" that
# it was dismissed. The moderation work adds the actions on the reported
# thing itself (hide a letter, pause a profile, suspend a user).


def report_action_taken(item: ModerationItem, moderator) -> None:
    pass


def report_dismissed(item: ModerationItem, moderator) -> None:
    pass


# --- What moderation knows of reports and of the accounts reported (registry) -----------


def _report_review(report: Report, item, may_see_private_facts: bool) -> dict:
    target = report.target
    subject = registry.subject_of(target)
    return {
        "report": report,
        "report_target": target,
        "report_target_url": admin_url(target),
        "reported_text": (
            subject.reported_text(target)
            if subject is not None and subject.reported_text is not None
            else ""
        ),
    }


def _name_of_reported(report: Report) -> str:
    subject = registry.subject_of(report.target)
    return subject.name_of(report.target) if subject is not None else ""


def register() -> None:
    registry.register_subject(
        get_user_model(),
        registry.Subject(
            name_of=lambda user: user.public_name,
            label_of=lambda user: gettext("User: %(name)s") % {"name": user.public_name},
            writer_of=lambda user: user,
        ),
    )
    registry.register_subject(
        Report,
        registry.Subject(
            name_of=_name_of_reported,
            review_context=_report_review,
            matching=lambda search: Report.objects.filter(reporter__in=search.pen_pals()).values(
                "pk"
            ),
        ),
    )
