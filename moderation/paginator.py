"""A paginator that does not count a million rows to draw a page.

The admin changelist asks its paginator for `count` on every page load
(`show_full_result_count = False` only drops the second, unfiltered count).
Counting the decided history exactly takes hundreds of milliseconds; the
planner's row estimate costs one EXPLAIN. Small results, where an exact
number matters and is cheap, are counted exactly.
"""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Results up to this many rows are counted exactly. The count reads at most
# EXACT_UP_TO + 1 rows (COUNT over a LIMIT), so it costs the same however
# long the filtered list is.
EXACT_UP_TO = 1_000


def estimated_row_count(queryset) -> int:
    """The planner's estimate of the rows `queryset` returns (EXPLAIN, not executed)."""
    queryset = queryset.order_by()
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str | bytes):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Counts exactly up to `exact_up_to` rows, estimates beyond.

    A longer result is "at least exact_up_to + 1 rows", and the planner's
    estimate says how many more. The estimate can be off either way, so the
    last page number of a very long list is approximate; nobody pages to
    item 900,000, and the queue is worked from the top.
    """

    exact_up_to = EXACT_UP_TO

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if not isinstance(object_list, QuerySet):
            return super().count
        # In the list's own order, so the count walks the index that serves
        # the page (COUNT over an ordered LIMIT) instead of a filtered scan.
        bounded = object_list[: self.exact_up_to + 1].count()
        if bounded <= self.exact_up_to:
            return bounded
        return max(bounded, estimated_row_count(object_list))
