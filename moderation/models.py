# Moderation items, screening rules, reports and no-contact orders arrive with the moderation issue.
