"""The vocabulary behind typo-tolerant search and "did you mean" (profiles.search_words).

A materialised view of the words in the display names and interests of
published profiles, with how many profiles use each. Only public fields of
listed profiles go in: never legal names, bios, drafts or unlisted profiles.
"""

from django.db import migrations

CREATE = r"""
CREATE MATERIALIZED VIEW profiles_searchword AS
SELECT lexeme AS word, count(*)::integer AS profiles
FROM profiles_inmateprofile AS profile,
     unnest(tsvector_to_array(to_tsvector(
         'simple', profile.display_name || ' ' || array_to_string(profile.interests, ' ')
     ))) AS lexeme
WHERE profile.status = 'published'
  AND char_length(lexeme) >= 3
  AND lexeme !~ '[-.@/:_]'
GROUP BY lexeme;
-- Exact look-ups of a word's one-letter edits, and REFRESH ... CONCURRENTLY.
CREATE UNIQUE INDEX profiles_searchword_word ON profiles_searchword (word);
-- Words similar by trigrams (`word % q`), for two-letter slips in long words.
CREATE INDEX profiles_searchword_trgm ON profiles_searchword USING gin (word gin_trgm_ops);
"""

DROP = "DROP MATERIALIZED VIEW IF EXISTS profiles_searchword;"


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0006_inmateprofile_is_paused_by_staff"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
