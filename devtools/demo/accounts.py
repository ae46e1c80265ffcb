"""The demo's accounts and facilities (seed_demo creates them; the other demo
modules and the load run sign in as them)."""

from __future__ import annotations

from profiles.models import Facility

DEMO_PASSWORD = "penpals-demo-2026"  # noqa: S105 - demo accounts on a development machine only

# The demo moderator's TOTP secret, set up by seed_demo and printed by
# `make run`, so the demo can sign in to the admin at once: add it to any
# authenticator app, or print the current code with --print-totp-code.
# Public on purpose: demo data refuses to load with DEBUG off.
DEMO_TOTP_EMAIL = "moderator@example.org"
DEMO_TOTP_SECRET = "PENPALSDEMOMODERATORSIGN"  # noqa: S105 - base32, demo only

DEMO_ACCOUNTS = [
    # (email, display name, role)
    ("admin@example.org", "Ada Admin", "admin"),
    ("moderator@example.org", "Morgan Moderator", "moderator"),
    ("liaison@example.org", "Lee Liaison", "liaison"),
    ("alex@example.org", "Alex", "pen pal"),
    ("sam@example.org", "Sam", "pen pal"),
]

DEMO_FACILITIES = [
    {
        "slug": "riverbend-state",
        "name": "Riverbend State Correctional Facility",
        "kind": Facility.Kind.STATE,
        "state": "OH",
        "mailing_address": "Riverbend State Correctional Facility\nPO Box 1200\nColumbus, OH 43216",
        "mail_rules": "Letters on white paper only. No stickers, glitter, perfume, staples or polaroids.",
    },
    {
        "slug": "cedar-county-jail",
        "name": "Cedar County Jail",
        "kind": Facility.Kind.COUNTY,
        "state": "IA",
        "mailing_address": "Cedar County Jail\n400 Cedar St\nTipton, IA 52772",
        "mail_rules": "Postcards and letters up to 5 pages. No photographs.",
        "screening_mode": Facility.ScreeningMode.FLAGGED_ONLY,
    },
    {
        "slug": "fci-high-plains",
        "name": "FCI High Plains",
        "kind": Facility.Kind.FEDERAL,
        "state": "CO",
        "mailing_address": "FCI High Plains\nPO Box 7000\nFlorence, CO 81226",
        "mail_rules": "Include the inmate number on every page. No cash, stamps or checks.",
    },
]
