"""Signals the moderation engine sends for domain apps to act on (it imports none)."""

from django.dispatch import Signal

# A no-contact order was recorded (or re-saved active). Arguments: `order`,
# and `immediately`: True when staff recorded it (apply it now, in the
# caller's transaction), False when a liaison did (apply it in a task after
# commit, so the liaison learns nothing about pen pals' accounts).
# messaging connects messaging.services.on_no_contact_order_recorded.
no_contact_order_recorded = Signal()
