"""Search that reads Spanish: accent-free text search configurations, and the
language each bio is written in so it is stemmed for that language.

penpals_simple, penpals_english and penpals_spanish are Postgres' simple,
english and spanish configurations with the unaccent dictionary first, so
"corazon" and "corazón", "Jose" and "José" are the same word to search.
Existing bios get their language detected and every vector is rebuilt.
"""

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations, models

CONFIGURATIONS = {"penpals_simple": "simple", "penpals_english": "english", "penpals_spanish": "spanish"}
WORD_TOKENS = "asciiword, asciihword, hword_asciipart, word, hword, hword_part"


def create_configurations():
    statements = []
    for name, base in CONFIGURATIONS.items():
        dictionary = "simple" if base == "simple" else f"{base}_stem"
        statements += [
            f"CREATE TEXT SEARCH CONFIGURATION {name} (COPY = {base});",
            f"ALTER TEXT SEARCH CONFIGURATION {name} "
            f"ALTER MAPPING FOR {WORD_TOKENS} WITH unaccent, {dictionary};",
        ]
    return "\n".join(statements)


DROP_CONFIGURATIONS = "\n".join(
    f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {name};" for name in CONFIGURATIONS
)

# The vector as profiles.models.SEARCH_VECTOR builds it at this migration.
REBUILD_VECTORS = """
UPDATE profiles_inmateprofile SET search_vector =
    setweight(to_tsvector('penpals_simple'::regconfig, coalesce(display_name, '')), 'A')
    || setweight(to_tsvector(
        (CASE WHEN bio_language = 'es' THEN 'penpals_spanish' ELSE 'penpals_english' END)::regconfig,
        coalesce(array_to_string(interests, ' '), '')), 'B')
    || setweight(to_tsvector(
        (CASE WHEN bio_language = 'es' THEN 'penpals_spanish' ELSE 'penpals_english' END)::regconfig,
        coalesce(bio, '')), 'C');
"""

BATCH = 2000


def detect_bio_languages(apps, schema_editor):
    # Late import: detection loads lingua's models, only needed when bios exist.
    from profiles.models import bio_language

    InmateProfile = apps.get_model("profiles", "InmateProfile")
    profiles = InmateProfile.objects.exclude(bio="").only("pk", "bio").order_by("pk")
    batch = []
    for profile in profiles.iterator(chunk_size=BATCH):
        profile.bio_language = bio_language(profile.bio)
        if profile.bio_language:
            batch.append(profile)
        if len(batch) >= BATCH:
            InmateProfile.objects.bulk_update(batch, ["bio_language"])
            batch = []
    InmateProfile.objects.bulk_update(batch, ["bio_language"])


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0007_search_words"),
    ]

    operations = [
        UnaccentExtension(),
        migrations.RunSQL(create_configurations(), DROP_CONFIGURATIONS),
        migrations.AddField(
            model_name="inmateprofile",
            name="bio_language",
            field=models.CharField(blank=True, editable=False, max_length=8),
        ),
        migrations.RunPython(detect_bio_languages, migrations.RunPython.noop, elidable=True),
        migrations.RunSQL(REBUILD_VECTORS, migrations.RunSQL.noop, elidable=True),
    ]
