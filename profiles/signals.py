"""Signals profiles sends for the apps built on it to act on (it imports none)."""

from django.dispatch import Signal

# A profile left the service: released, or transferred (its status says
# which). Argument: `profile`, locked and saved. Sent inside the caller's
# transaction, so what receivers do commits or rolls back with it.
# messaging connects messaging.services.on_profile_left (its correspondences close).
profile_left = Signal()
