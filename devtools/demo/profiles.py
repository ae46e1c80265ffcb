"""Made-up directory data: demo profiles for `make run` and a large set for benchmarks.

`seed_profiles()` is a demo seeder (registered in seed_demo's DEMO_SEEDERS):
a few hundred published profiles across the demo facilities, most with a
generated initials avatar stored like a processed, approved photo.

`seed_scale(count)` (the `seed_scale` command and the directory benchmark)
COPYs tens of thousands of profiles into the database in seconds, with
variety close enough to real data that every directory filter is as
selective as it would be in production.

Every person here is invented. The generators are seeded, so two runs make
the same people; only their ages and dates move with the calendar.
"""

from __future__ import annotations

import hashlib
import io
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image, ImageDraw, ImageFont

from devtools.demo.accounts import DEMO_FACILITIES
from penpals.dates import years_before
from penpals.models import User
from profiles.models import SEARCH_VECTOR, Facility, Favorite, InmateProfile, ProfilePhoto

Gender = InmateProfile.Gender
ReleaseKind = InmateProfile.ReleaseKind
Seeking = InmateProfile.Seeking
Language = InmateProfile.Language
Status = InmateProfile.Status

# --- Vocabulary -----------------------------------------------------------------------

# fmt: off
FIRST_NAMES = {
    Gender.MALE: [
        "John", "James", "Michael", "Robert", "David", "William", "Richard", "Joseph",
        "Thomas", "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald",
        "Steven", "Paul", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy",
        "Ronald", "Jason", "Edward", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric",
        "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel",
        "Gregory", "Alexander", "Patrick", "Frank", "Raymond", "Jack", "Dennis", "Jerry",
        "Tyler", "Aaron", "Jose", "Adam", "Nathan", "Henry", "Zachary", "Douglas", "Peter",
        "Kyle", "Noah", "Ethan", "Jeremy", "Walter", "Christian", "Keith", "Roger", "Terry",
        "Austin", "Sean", "Gerald", "Carl", "Harold", "Dylan", "Arthur", "Lawrence", "Jordan",
        "Jesse", "Bryan", "Billy", "Bruce", "Gabriel", "Joe", "Logan", "Alan", "Juan",
        "Albert", "Willie", "Elijah", "Wayne", "Randy", "Vincent", "Mason", "Roy", "Ralph",
        "Bobby", "Russell", "Bradley", "Philip", "Eugene", "Luis", "Carlos", "Miguel",
        "Marcus", "Andre", "Darnell", "Tyrone", "DeShawn", "Hector", "Ramon", "Jamal", "Malik",
        "Trevon", "Dmitri", "Tuan",
    ],
    Gender.FEMALE: [
        "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
        "Sarah", "Karen", "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly",
        "Emily", "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie",
        "Rebecca", "Sharon", "Laura", "Cynthia", "Dorothy", "Amy", "Kathleen", "Angela",
        "Shirley", "Brenda", "Emma", "Anna", "Pamela", "Nicole", "Samantha", "Katherine",
        "Christine", "Helen", "Debra", "Rachel", "Carolyn", "Janet", "Maria", "Catherine",
        "Heather", "Diane", "Olivia", "Julie", "Joyce", "Victoria", "Ruth", "Virginia",
        "Lauren", "Kelly", "Christina", "Joan", "Evelyn", "Judith", "Andrea", "Hannah",
        "Megan", "Cheryl", "Jacqueline", "Martha", "Madison", "Teresa", "Gloria", "Sara",
        "Janice", "Ann", "Kathryn", "Abigail", "Sophia", "Frances", "Jean", "Alice", "Judy",
        "Isabella", "Julia", "Grace", "Amber", "Denise", "Danielle", "Marilyn", "Beverly",
        "Charlotte", "Natalie", "Theresa", "Diana", "Brittany", "Doris", "Kayla", "Alexis",
        "Lori", "Tamika", "Latoya", "Guadalupe", "Rosa", "Yolanda", "Keisha", "Mei", "Linh",
    ],
    "neutral": [
        "Alex", "Jordan", "Taylor", "Casey", "Riley", "Jamie", "Morgan", "Avery", "Quinn",
        "Rowan", "Skyler", "Sage", "River", "Emerson", "Finley", "Harper", "Kai", "Reese",
        "Dakota", "Charlie", "Frankie", "Jesse", "Robin", "Sam", "Remy", "Ash", "Ellis",
    ],
}
# fmt: on

SURNAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Washington", "Okafor", "Tran",
    "Kowalski", "Yazzie", "Begay", "Oduya", "Castillo", "Delgado", "Fitzgerald",
]  # fmt: skip

INTERESTS = [
    "chess", "poetry", "basketball", "drawing", "guitar", "cooking", "history",
    "science fiction", "gardening", "bible study", "meditation", "yoga", "football",
    "writing", "reading", "mathematics", "philosophy", "crochet", "painting", "hip hop",
    "jazz", "country music", "fishing", "cars", "astronomy", "psychology", "law", "business",
    "fitness", "running", "dogs", "horses", "photography", "movies", "anime", "comics",
    "video games", "soccer", "baseball", "boxing", "woodworking", "electronics", "coding",
    "learning languages", "travel", "nature", "birdwatching", "theology", "quran study",
    "buddhism", "gospel music", "rap", "rock music", "crosswords", "sudoku", "card games",
    "tattoo art", "fashion", "baking", "nutrition", "parenting", "recovery", "architecture",
    "ceramics", "origami", "motorcycles", "wrestling", "tennis", "knitting", "true crime",
    "mythology", "economics", "politics", "spoken word", "calligraphy", "dominoes",
]  # fmt: skip

HOMETOWNS = [
    "Columbus", "Cleveland", "Des Moines", "Denver", "Pueblo", "Dayton", "Cedar Rapids",
    "Chicago", "Detroit", "Houston", "San Antonio", "Phoenix", "Atlanta", "Memphis",
    "Baltimore", "Philadelphia", "Los Angeles", "Fresno", "Tulsa", "Omaha", "Little Rock",
    "a small town nobody has heard of", "the countryside", "Puerto Rico", "the Bronx",
]  # fmt: skip

OPENERS = [
    "Hi, I'm {name}. I grew up in {hometown} and I'm {age}.",
    "Hello from {name}! I'm {age}, originally from {hometown}.",
    "My name is {name}, I'm {age} years old and I'm from {hometown}.",
    "Hey there. {name} here, {age}, raised in {hometown}.",
    "Thanks for stopping by my profile. I'm {name}, from {hometown}.",
]
MIDDLES = [
    "I spend most of my free time on {i1} and {i2}.",
    "Lately I've been teaching myself {i1}, and I'd love tips from anyone who knows it.",
    "If you're into {i1} or {i2}, we'll have plenty to write about.",
    "{I1} keeps me sane in here, and {i2} keeps me curious.",
    "I'm working toward my GED and reading everything I can about {i1}.",
    "I finished a course in {i1} this year and I'm proud of it.",
    "Ask me about {i1}: I could write pages.",
    "On good days I'm doing {i1}; on slow days it's {i2}.",
    "I help run the {i1} group on my unit.",
    "I have two kids who keep me going, and I write them every week.",
    "I've made mistakes and I'm doing the work to be a better person than I was.",
    "Music is how I get through the week, especially {i1}.",
]
CLOSERS = [
    "I answer every letter, usually within a couple of weeks.",
    "Looking for honest conversation and maybe a laugh or two.",
    "I'd like to hear about life outside, even the ordinary stuff.",
    "Write me about anything: your day, a book, a recipe.",
    "No drama, just good conversation. Take care of yourself.",
    "Mail is slow here, so please be patient with me.",
    "I can't wait to hear from you.",
]

# The bios of people whose first language is Spanish are written in Spanish,
# so directory search is tried on both (each list as long as its English
# twin: the same random draws pick the same shape of bio).
OPENERS_ES = [
    "Hola, soy {name}. Crecí en {hometown} y tengo {age} años.",
    "¡Saludos de {name}! Tengo {age} años y soy de {hometown}.",
    "Me llamo {name}, tengo {age} años y vengo de {hometown}.",
    "¿Qué tal? Aquí {name}, {age} años, criado en {hometown}.",
    "Gracias por visitar mi perfil. Soy {name}, de {hometown}.",
]
MIDDLES_ES = [
    "Paso casi todo mi tiempo libre con {i1} y {i2}.",
    "Estoy aprendiendo {i1} por mi cuenta y agradecería consejos de quien sepa.",
    "Si le gusta {i1} o {i2}, tendremos mucho de qué escribir.",
    "{I1} me mantiene en calma aquí, y {i2} me despierta la curiosidad.",
    "Estoy estudiando para terminar la secundaria y leo todo lo que puedo sobre {i1}.",
    "Este año terminé un curso de {i1} y estoy orgulloso de ello.",
    "Pregúnteme sobre {i1}: podría escribir páginas enteras.",
    "Los días buenos me dedico a {i1}; los días lentos, a {i2}.",
    "Ayudo a organizar el grupo de {i1} en mi unidad.",
    "Tengo dos hijos que me dan fuerzas, y les escribo cada semana con todo el corazón.",
    "He cometido errores y estoy trabajando para ser mejor persona de lo que fui.",
    "La música es lo que me ayuda a pasar la semana, sobre todo las canciones de {i1}.",
]
CLOSERS_ES = [
    "Contesto todas las cartas, normalmente en un par de semanas.",
    "Busco conversaciones sinceras y, por qué no, alguna risa.",
    "Me gustaría saber cómo es la vida afuera, aunque sean cosas de todos los días.",
    "Escríbame sobre lo que quiera: su día, un libro, una receta.",
    "Sin dramas, solo buena conversación. Cuídese mucho.",
    "El correo es lento aquí, así que le pido paciencia.",
    "Espero con ganas su carta.",
]
# How a Spanish bio names each interest.
INTERESTS_ES = {
    "chess": "el ajedrez", "poetry": "la poesía", "basketball": "el baloncesto",
    "drawing": "el dibujo", "guitar": "la guitarra", "cooking": "la cocina",
    "history": "la historia", "science fiction": "la ciencia ficción",
    "gardening": "la jardinería", "bible study": "el estudio de la Biblia",
    "meditation": "la meditación", "yoga": "el yoga", "football": "el fútbol americano",
    "writing": "la escritura", "reading": "la lectura", "mathematics": "las matemáticas",
    "philosophy": "la filosofía", "crochet": "el ganchillo", "painting": "la pintura",
    "hip hop": "el hip hop", "jazz": "el jazz", "country music": "la música country",
    "fishing": "la pesca", "cars": "los coches", "astronomy": "la astronomía",
    "psychology": "la psicología", "law": "el derecho", "business": "los negocios",
    "fitness": "el ejercicio", "running": "correr", "dogs": "los perros",
    "horses": "los caballos", "photography": "la fotografía", "movies": "el cine",
    "anime": "el anime", "comics": "los cómics", "video games": "los videojuegos",
    "soccer": "el fútbol", "baseball": "el béisbol", "boxing": "el boxeo",
    "woodworking": "la carpintería", "electronics": "la electrónica",
    "coding": "la programación", "learning languages": "los idiomas", "travel": "los viajes",
    "nature": "la naturaleza", "birdwatching": "la observación de aves",
    "theology": "la teología", "quran study": "el estudio del Corán",
    "buddhism": "el budismo", "gospel music": "la música gospel", "rap": "el rap",
    "rock music": "el rock", "crosswords": "los crucigramas", "sudoku": "el sudoku",
    "card games": "los juegos de cartas", "tattoo art": "el arte del tatuaje",
    "fashion": "la moda", "baking": "la repostería", "nutrition": "la nutrición",
    "parenting": "la crianza", "recovery": "la recuperación",
    "architecture": "la arquitectura", "ceramics": "la cerámica", "origami": "el origami",
    "motorcycles": "las motos", "wrestling": "la lucha libre", "tennis": "el tenis",
    "knitting": "el tejido", "true crime": "los casos reales", "mythology": "la mitología",
    "economics": "la economía", "politics": "la política", "spoken word": "la poesía oral",
    "calligraphy": "la caligrafía", "dominoes": "el dominó",
}  # fmt: skip


SCALE_STATES = [  # (state, share): how many facilities each state gets at scale
    ("TX", 6), ("CA", 6), ("FL", 5), ("GA", 4), ("OH", 4), ("NY", 4), ("PA", 3), ("IL", 3),
    ("MI", 3), ("NC", 3), ("AZ", 2), ("LA", 2), ("VA", 2), ("TN", 2), ("AL", 2), ("MO", 2),
    ("IN", 2), ("KY", 2), ("OK", 2), ("CO", 2), ("WA", 1), ("OR", 1), ("NV", 1), ("IA", 1),
    ("AR", 1), ("MS", 1), ("SC", 1), ("NM", 1), ("WI", 1), ("MN", 1),
]  # fmt: skip
FACILITY_PLACES = [
    "Mill Creek", "Red Rock", "Pine Ridge", "Lakeview", "Stone Valley", "Cold Springs",
    "Eastfield", "Granite Falls", "Hollow Oak", "Iron Hill", "Juniper Flats", "Kettle River",
    "Lone Pine", "Maple Grove", "North Fork", "Oak Hollow", "Prairie View", "Quarry Point",
    "Riverside", "Sand Hills", "Twin Lakes", "Union Gap", "Valley Forge", "West Branch",
]  # fmt: skip

# Avatars: light text on muted backgrounds, each pair above 4.5:1 contrast.
AVATAR_COLOURS = [
    "#0e5c6a", "#5b3a8c", "#8c3a3a", "#2f5d3a", "#6a4a14", "#1f4e79", "#7a2d5b", "#3d4f5c",
    "#4b5d1e", "#8a4b08", "#264653", "#6d2e46",
]  # fmt: skip

DISPLAY_SIZE = 480
THUMBNAIL_SIZE = 160


# --- People -----------------------------------------------------------------------------


@dataclass
class Person:
    """One invented profile, before it is stored."""

    first_name: str
    display_name: str
    legal_name: str
    gender: str
    date_of_birth: date
    release_kind: str
    release_date: date | None
    bio: str
    bio_language: str
    interests: list[str]
    seeking: list[str]
    languages: list[str]
    is_accepting_letters: bool
    published_at: datetime
    public_updated_at: datetime
    expires_at: date
    has_photo: bool
    colour: str = field(default="#0e5c6a")


T = TypeVar("T")


def _weighted(rng: random.Random, choices: Sequence[tuple[T, float]]) -> T:
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]


def born_at_age(age: int, today: date, *, days_back: int) -> date:
    """A date of birth that makes someone exactly `age` today, as
    InmateProfile.age counts: `days_back` days (0 to 364) before the day they
    would turn `age` today. So a bio's "I'm 40" matches the age the profile
    shows (until that birthday comes round again)."""
    latest = years_before(today, age)  # turns `age` today
    earliest = years_before(today, age + 1) + timedelta(days=1)  # turns `age + 1` tomorrow
    return max(earliest, latest - timedelta(days=days_back))


def invent_person(rng: random.Random, *, today: date, now: datetime) -> Person:
    """A plausible person, drawn to roughly match who is in US prisons (mostly men,
    mostly 25-50, about half with a known release date)."""
    gender = _weighted(
        rng, [(Gender.MALE, 84), (Gender.FEMALE, 12), (Gender.NONBINARY, 3), (Gender.OTHER, 1)]
    )
    names = FIRST_NAMES.get(gender, FIRST_NAMES["neutral"])
    if gender in (Gender.MALE, Gender.FEMALE) and rng.random() < 0.05:
        names = FIRST_NAMES["neutral"]
    first_name = rng.choice(names)
    surname = rng.choice(SURNAMES)
    age = max(18, min(82, int(rng.gauss(38, 11))))
    date_of_birth = born_at_age(age, today, days_back=rng.randrange(365))

    release = rng.random()
    if release < 0.55:
        release_kind = ReleaseKind.DATE
        # Skewed towards sooner: many people listed are within a few years of release.
        release_date = today + timedelta(days=int(rng.expovariate(1 / 1400)) + 14)
    elif release < 0.67:
        release_kind, release_date = ReleaseKind.LIFE, None
    else:
        release_kind, release_date = ReleaseKind.UNKNOWN, None

    interests = rng.sample(INTERESTS, rng.randint(2, 6))
    seeking: list[str] = [Seeking.FRIENDSHIP] if rng.random() < 0.75 else []
    for value, share in [
        (Seeking.ROMANCE, 0.3),
        (Seeking.MENTORSHIP, 0.2),
        (Seeking.LEGAL_HELP, 0.12),
        (Seeking.FAITH, 0.15),
        (Seeking.EDUCATION, 0.18),
    ]:
        if rng.random() < share:
            seeking.append(value)
    seeking = seeking or [Seeking.FRIENDSHIP]
    languages: list[str] = [Language.ENGLISH] if rng.random() < 0.93 else []
    for language, share in [
        (Language.SPANISH, 0.18),
        (Language.FRENCH, 0.02),
        (Language.PORTUGUESE, 0.01),
        (Language.CHINESE, 0.01),
        (Language.VIETNAMESE, 0.01),
        (Language.ARABIC, 0.01),
        (Language.ASL, 0.01),
    ]:
        if rng.random() < share:
            languages.append(language)
    languages = languages or [Language.SPANISH]

    display_name = f"{first_name} {surname[0]}." if rng.random() < 0.8 else first_name
    in_spanish = languages[0] == Language.SPANISH
    openers, middles, closers = (
        (OPENERS_ES, MIDDLES_ES, CLOSERS_ES) if in_spanish else (OPENERS, MIDDLES, CLOSERS)
    )
    sentences = [
        rng.choice(openers).format(name=first_name, hometown=rng.choice(HOMETOWNS), age=age)
    ]
    for template in rng.sample(middles, rng.randint(1, 3)):
        i1, i2 = rng.sample(interests, 2)
        if in_spanish:
            i1, i2 = INTERESTS_ES[i1], INTERESTS_ES[i2]
        sentences.append(template.format(i1=i1, i2=i2, I1=i1[:1].upper() + i1[1:]))
    sentences.append(rng.choice(closers))

    # Listed over the last three years, a few every day.
    published_at = now - timedelta(seconds=rng.randrange(3 * 365 * 86400))
    public_updated_at = published_at + timedelta(
        seconds=rng.randrange(max(1, int((now - published_at).total_seconds())))
        if rng.random() < 0.4
        else 0
    )
    return Person(
        first_name=first_name,
        display_name=display_name,
        legal_name=f"{first_name} {surname}",
        gender=gender,
        date_of_birth=date_of_birth,
        release_kind=release_kind,
        release_date=release_date,
        bio=" ".join(sentences),
        bio_language=Language.SPANISH if in_spanish else Language.ENGLISH,
        interests=interests,
        seeking=seeking,
        languages=languages,
        is_accepting_letters=rng.random() < 0.9,
        published_at=published_at,
        public_updated_at=public_updated_at,
        expires_at=today + timedelta(days=rng.randint(30, 365)),
        has_photo=rng.random() < 0.8,
        colour=rng.choice(AVATAR_COLOURS),
    )


def initials_of(name: str) -> str:
    letters = [part[0] for part in name.replace(".", " ").split() if part[:1].isalpha()]
    return "".join(letters[:2]).upper() or "?"


# --- Placeholder photos ---------------------------------------------------------------------


def make_avatar(initials: str, colour: str, size: int, *, image_format: str = "JPEG") -> bytes:
    """A square picture of `initials` on a flat colour: a stand-in for a real photo."""
    image = Image.new("RGB", (size, size), colour)
    draw = ImageDraw.Draw(image)
    if initials:
        font = ImageFont.load_default(size=size * 0.38)
        draw.text((size / 2, size / 2), initials, fill="#ffffff", font=font, anchor="mm")
    else:  # a head-and-shoulders outline
        draw.ellipse((size * 0.34, size * 0.18, size * 0.66, size * 0.5), fill="#ffffff")
        draw.ellipse((size * 0.18, size * 0.56, size * 0.82, size * 1.2), fill="#ffffff")
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, quality=82)
    return buffer.getvalue()


@dataclass
class StoredPhoto:
    """Files of one placeholder photo, already in storage."""

    original: str
    display: str
    thumbnail: str
    checksum: str
    size_bytes: int


def store_avatar(initials: str, colour: str) -> StoredPhoto:
    """Save a placeholder photo the way processing leaves a real one: a (tiny)
    original in private storage, display and thumbnail variants in public storage,
    all under random names."""
    original = make_avatar(initials, colour, 64)
    # Two random names: a public URL must not tell where the private original is.
    name, public_name = uuid.uuid4().hex, uuid.uuid4().hex
    return StoredPhoto(
        original=storages["private"].save(f"photos/originals/{name}", ContentFile(original)),
        display=storages["default"].save(
            f"photos/display/{public_name}.jpg",
            ContentFile(make_avatar(initials, colour, DISPLAY_SIZE)),
        ),
        thumbnail=storages["default"].save(
            f"photos/thumbs/{public_name}.jpg",
            ContentFile(make_avatar(initials, colour, THUMBNAIL_SIZE)),
        ),
        checksum=hashlib.sha256(original).hexdigest(),
        size_bytes=len(original),
    )


# --- Demo seeder (make run) --------------------------------------------------------------------

DEMO_PROFILES_PER_FACILITY = 80
DEMO_INMATE_NUMBER_PREFIX = "DEMO-"
# A one-page PDF saying it stands in for a signed consent form.
DEMO_CONSENT_FORM = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R"
    b"/Resources<</Font<</F1<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>>>>>>>endobj\n"
    b"4 0 obj<</Length 62>>stream\nBT /F1 18 Tf 72 720 Td (Demo consent form: placeholder) Tj ET\n"
    b"endstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def seed_profiles() -> None:
    """Published demo profiles across the demo facilities, with photos. Idempotent:
    people are keyed by inmate number, and only missing ones are created."""

    facilities = list(Facility.objects.filter(slug__in=[f["slug"] for f in DEMO_FACILITIES]))
    existing = set(
        InmateProfile.objects.filter(
            facility__in=facilities, inmate_number__startswith=DEMO_INMATE_NUMBER_PREFIX
        ).values_list("facility_id", "inmate_number")
    )
    liaison = User.objects.filter(email="liaison@example.org").first()
    rng = random.Random(f"penpals-demo-{DEMO_PROFILES_PER_FACILITY}")  # noqa: S311 - made-up people
    today, now = timezone.localdate(), timezone.now()

    new_profiles: list[tuple[InmateProfile, Person]] = []
    for facility in sorted(facilities, key=lambda f: f.slug):
        for number in range(1, DEMO_PROFILES_PER_FACILITY + 1):
            person = invent_person(rng, today=today, now=now)
            # Draw the slug suffix for every person so the sequence never depends on
            # which profiles already exist.
            suffix = rng.getrandbits(24)
            inmate_number = f"{DEMO_INMATE_NUMBER_PREFIX}{number:04d}"
            if (facility.pk, inmate_number) in existing:
                continue
            profile = InmateProfile(
                facility=facility,
                inmate_number=inmate_number,
                slug=f"{slugify(person.display_name)[:60]}-{suffix:06x}",
                status=Status.PUBLISHED,
                consent_confirmed_by=liaison,
                consent_confirmed_at=person.published_at - timedelta(days=2),
                **_profile_fields(person),
            )
            profile.consent_form.save("consent.pdf", ContentFile(DEMO_CONSENT_FORM), save=False)
            new_profiles.append((profile, person))
    if not new_profiles:
        return

    InmateProfile.objects.bulk_create([profile for profile, _ in new_profiles])
    photos = []
    for profile, person in new_profiles:
        if not person.has_photo:
            continue
        stored = store_avatar(initials_of(person.display_name), person.colour)
        photos.append(_photo_row(profile, stored, created_at=person.published_at))
    ProfilePhoto.objects.bulk_create(photos)
    for photo in photos:
        photo.profile.primary_photo = photo
    InmateProfile.objects.bulk_update([photo.profile for photo in photos], ["primary_photo"])
    InmateProfile.objects.filter(pk__in=[profile.pk for profile, _ in new_profiles]).update(
        search_vector=SEARCH_VECTOR
    )
    _seed_demo_favorites()


def _profile_fields(person: Person) -> dict:
    return {
        "legal_name": person.legal_name,
        "display_name": person.display_name,
        "date_of_birth": person.date_of_birth,
        "gender": person.gender,
        "release_kind": person.release_kind,
        "release_date": person.release_date,
        "bio": person.bio,
        "bio_language": person.bio_language,
        "interests": person.interests,
        "seeking": person.seeking,
        "languages": person.languages,
        "is_accepting_letters": person.is_accepting_letters,
        "published_at": person.published_at,
        "public_updated_at": person.public_updated_at,
        "expires_at": person.expires_at,
    }


def _photo_row(
    profile: InmateProfile, stored: StoredPhoto, *, created_at: datetime
) -> ProfilePhoto:
    return ProfilePhoto(
        profile=profile,
        original=stored.original,
        display=stored.display,
        thumbnail=stored.thumbnail,
        status=ProfilePhoto.Status.READY,
        review_status=ProfilePhoto.Review.APPROVED,
        is_primary=True,
        size_bytes=stored.size_bytes,
        checksum=stored.checksum,
        width=DISPLAY_SIZE,
        height=DISPLAY_SIZE,
        processed_at=created_at,
    )


def _seed_demo_favorites() -> None:
    """The demo pen pal Alex has saved a few profiles."""

    alex = User.objects.filter(email="alex@example.org").first()
    if alex is None:
        return
    profiles = InmateProfile.objects.published().filter(
        inmate_number__startswith=DEMO_INMATE_NUMBER_PREFIX
    )
    Favorite.objects.bulk_create(
        [Favorite(user=alex, profile=profile) for profile in profiles.order_by("pk")[:4]],
        ignore_conflicts=True,
    )


# --- Scale data (benchmarks) ------------------------------------------------------------------------

SCALE_FACILITY_PREFIX = "scale-"
# Kinds of facility and how common each is.
SCALE_FACILITY_KINDS = [
    (Facility.Kind.STATE, 70),
    (Facility.Kind.COUNTY, 15),
    (Facility.Kind.FEDERAL, 10),
    (Facility.Kind.PRIVATE, 5),
]
# Share of profiles that are not listed (drafts, paused, released...), like a live
# database, so the partial indexes have something to leave out.
SCALE_UNLISTED_STATUSES = [
    (Status.DRAFT, 3),
    (Status.PENDING_REVIEW, 2),
    (Status.PAUSED, 2),
    (Status.RELEASED, 2),
    (Status.TRANSFERRED, 1),
    (Status.ARCHIVED, 1),
]

PROFILE_COLUMNS = [
    "id", "facility_id", "inmate_number", "legal_name", "display_name", "slug",
    "date_of_birth", "gender", "release_kind", "release_date", "bio", "interests", "seeking",
    "languages", "is_accepting_letters", "status", "pending_changes", "primary_photo_id",
    "consent_form", "created_at", "updated_at", "published_at", "public_updated_at", "expires_at",
    "is_paused_by_staff", "bio_language",
]  # fmt: skip
PHOTO_COLUMNS = [
    "id", "profile_id", "original", "display", "thumbnail", "status", "status_reason",
    "review_status", "is_primary", "size_bytes", "checksum", "width", "height", "created_at",
    "processed_at",
]  # fmt: skip


def seed_scale_facilities() -> list[Facility]:
    """About 75 facilities across 30 states, weighted like the real prison population."""
    rng = random.Random("penpals-scale-facilities")  # noqa: S311 - made-up facilities
    facilities = []
    for state, share in SCALE_STATES:
        for number in range(1, share * 2 + 1):
            kind = _weighted(rng, SCALE_FACILITY_KINDS)
            place = rng.choice(FACILITY_PLACES)
            facility, _ = Facility.objects.get_or_create(
                slug=f"{SCALE_FACILITY_PREFIX}{state.lower()}-{number}",
                defaults={
                    "name": f"{place} {Facility.Kind(kind).label.title()} {number}",
                    "kind": kind,
                    "state": state,
                    "mailing_address": f"{place} Facility\nPO Box {100 + number}\n{state}",
                    "mail_rules": "Letters on white paper only.",
                },
            )
            facilities.append(facility)
    return facilities


def _scale_avatars() -> list[StoredPhoto]:
    # Outlines rather than initials: the files are shared, so letters would not match names.
    return [store_avatar("", colour) for colour in AVATAR_COLOURS]


def _reserve_ids(cursor, model, count: int) -> list[int]:
    """Take `count` values from the model's id sequence, so rows can refer to each
    other before they are inserted."""
    table = model._meta.db_table
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, count],
    )
    return [row[0] for row in cursor.fetchall()]


def _compiled_search_vector() -> tuple[str, list]:
    """SEARCH_VECTOR as SQL over the columns of profiles_inmateprofile, so bulk
    loads build exactly the vector that InmateProfile.save() stores."""
    query = InmateProfile.objects.annotate(scale_vector=SEARCH_VECTOR).query
    compiler = query.get_compiler(connection=connection)
    sql, params = compiler.compile(query.annotations["scale_vector"])
    return sql, list(params)


def seed_scale(count: int, *, seed: int = 1, log=None) -> float:
    """Add `count` published profiles (plus about 10% unlisted ones) for benchmarks.

    Rows are COPYed into a temporary table, then inserted into the profiles
    table in one statement that also computes each search vector, so every
    row is written once. Photos share a few placeholder files. Returns the
    seconds taken. Runs VACUUM ANALYZE afterwards so the planner sees the new data.
    """
    started = time.monotonic()
    say = log or (lambda message: None)
    rng = random.Random(f"penpals-scale-{seed}-{count}")  # noqa: S311 - made-up people
    today, now = timezone.localdate(), timezone.now()
    facilities = seed_scale_facilities()
    facility_weights = [2 if f.kind == Facility.Kind.STATE else 1 for f in facilities]
    avatars = _scale_avatars()
    unlisted = count // 10
    total = count + unlisted
    say(f"Generating {total:,} profiles across {len(facilities)} facilities...")

    vector_sql, vector_params = _compiled_search_vector()
    with transaction.atomic(), connection.cursor() as cursor:
        profile_ids = _reserve_ids(cursor, InmateProfile, total)
        statuses = [Status.PUBLISHED] * count + [
            _weighted(rng, SCALE_UNLISTED_STATUSES) for _ in range(unlisted)
        ]
        rng.shuffle(statuses)
        people = [invent_person(rng, today=today, now=now) for _ in range(total)]
        photo_ids = iter(_reserve_ids(cursor, ProfilePhoto, sum(p.has_photo for p in people)))

        cursor.execute(
            "CREATE TEMPORARY TABLE scale_profiles "
            "(LIKE profiles_inmateprofile INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        photo_rows = []
        columns = ", ".join(PROFILE_COLUMNS)
        with cursor.cursor.copy(f"COPY scale_profiles ({columns}) FROM STDIN") as copy:
            for profile_id, person, status in zip(profile_ids, people, statuses, strict=True):
                facility = rng.choices(facilities, weights=facility_weights, k=1)[0]
                photo_id = next(photo_ids) if person.has_photo else None
                is_listed_once = status != Status.DRAFT and status != Status.PENDING_REVIEW
                copy.write_row(
                    (
                        profile_id,
                        facility.pk,
                        f"S{profile_id}",
                        person.legal_name,
                        person.display_name,
                        f"{slugify(person.display_name)}-s{profile_id}",
                        person.date_of_birth,
                        person.gender,
                        person.release_kind,
                        person.release_date,
                        person.bio,
                        person.interests,
                        person.seeking,
                        person.languages,
                        person.is_accepting_letters,
                        status,
                        "{}",
                        photo_id,
                        "",
                        person.published_at,
                        now,
                        person.published_at if is_listed_once else None,
                        person.public_updated_at if is_listed_once else None,
                        person.expires_at if is_listed_once else None,
                        False,
                        person.bio_language,
                    )
                )
                if photo_id is not None:
                    avatar = avatars[profile_id % len(avatars)]
                    photo_rows.append(
                        (
                            photo_id,
                            profile_id,
                            avatar.original,
                            avatar.display,
                            avatar.thumbnail,
                            ProfilePhoto.Status.READY,
                            "",
                            ProfilePhoto.Review.APPROVED,
                            True,
                            avatar.size_bytes,
                            avatar.checksum,
                            DISPLAY_SIZE,
                            DISPLAY_SIZE,
                            person.published_at,
                            person.published_at,
                        )
                    )
        say(f"Copied rows ({time.monotonic() - started:.1f}s); inserting with search vectors...")
        # The compiled vector names columns as "profiles_inmateprofile"."bio"; the
        # alias makes those names read from the temporary table.
        cursor.execute(
            f"INSERT INTO profiles_inmateprofile ({columns}, search_vector) "  # noqa: S608 - fixed names
            f"SELECT {columns}, {vector_sql} FROM scale_profiles AS profiles_inmateprofile",
            vector_params,
        )
        cursor.execute("DROP TABLE scale_profiles")
        say(f"Inserted profiles ({time.monotonic() - started:.1f}s); copying photos...")
        photo_columns = ", ".join(PHOTO_COLUMNS)
        with cursor.cursor.copy(f"COPY profiles_profilephoto ({photo_columns}) FROM STDIN") as copy:
            for row in photo_rows:
                copy.write_row(row)
    say(f"Committed ({time.monotonic() - started:.1f}s); analyzing...")
    # VACUUM also sets the visibility map, as autovacuum soon would, so index-only
    # scans skip the heap from the start. It cannot run inside a transaction (tests).
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for table in ("profiles_inmateprofile", "profiles_profilephoto", "profiles_facility"):
            cursor.execute(f"{command} {table}")
    return time.monotonic() - started
