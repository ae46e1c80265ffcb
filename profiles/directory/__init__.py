"""The public directory: how the public finds profiles.

Views pass the query string to `search_directory` and render what it returns.
Each concern has its module here:

- filters: the query string as a form (`DirectoryFilterForm`): filters, sort
  orders, the facility list, and widgets that render it fast.
- query: filters and search text as SQL: full text, near spellings, order.
- cards: the columns a directory card reads, and the card itself.
- results: a search run: the capped count, one page of rows, its links.
- favorites: a pen pal's saved profiles.
- profile_page: what a profile's own page shows beyond the profile.

Indexes
    Every filter and sort uses the partial indexes on published profiles in
    profiles.models (the sort orders match their column directions); search
    uses the GIN indexes on `search_vector` and `display_name`. Searches run
    in a transaction with SET LOCAL enable_seqscan = off (`_plan_for_search`).
    Measured by devtools.benchmarks.directory at 100,000 published profiles.
"""

from profiles.directory.favorites import FavoriteForm, is_saved, saved_page
from profiles.directory.profile_page import public_photos
from profiles.directory.results import is_canonical_query, search_directory

__all__ = [
    "FavoriteForm",
    "is_canonical_query",
    "is_saved",
    "public_photos",
    "saved_page",
    "search_directory",
]
