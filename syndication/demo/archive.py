"""The demo archive: a few channels and ~200 invented, neutral stories for an empty database.

Everything here is made up: the towns, outlets, teams and people do not exist, and the images
are drawn by the service itself (illustrations.py) and stored in its media store, so a demo page
loads nothing from another host. The archive is deterministic: the same `now` gives the same
stories, dated over the last ~60 days before it, with codes rising in publication order.

It goes in through the ordinary services (create_channel, create_story) in one write
transaction, so it is validated, sanitised and stored exactly as any other content would be.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndication.channels.service import create_channel
from syndication.config import Settings
from syndication.db import Database
from syndication.demo.illustrations import illustration
from syndication.errors import Conflict
from syndication.media.store import MediaStore
from syndication.models import Channel, Story
from syndication.stories.service import create_story

SEED = 2204
FIRST_CODE = 2_204_100
TOTAL_STORIES = 200
ARCHIVE_DAYS = 60
SCHEDULED_IN = timedelta(minutes=10)
SECTIONS = ("world", "business", "science", "sport")
BRIEFING_TAG = "briefing"
COPYRIGHT = "Demo content: invented news about invented places, free to reuse"

CHANNELS: tuple[dict[str, Any], ...] = (
    {"slug": "all", "title": "All stories",
     "description": "Every published story of the demo archive, newest first."},
    {"slug": "world", "title": "World", "filter": {"sections": ["world"], "languages": ["en"]},
     "description": "Towns, councils and communities."},
    {"slug": "business", "title": "Business",
     "filter": {"sections": ["business"], "languages": ["en"]},
     "description": "Markets, workshops, harbours and jobs."},
    {"slug": "science", "title": "Science",
     "filter": {"sections": ["science"], "languages": ["en"]},
     "description": "Nature, sky-watching and local research."},
    {"slug": "sport", "title": "Sport", "filter": {"sections": ["sport"], "languages": ["en"]},
     "description": "League matches, regattas and fun runs."},
    {"slug": "arabic", "title": "الأخبار بالعربية", "language": "ar",
     "filter": {"languages": ["ar"]},
     "description": "مختارات من الأخبار المحلية باللغة العربية."},
    {"slug": "briefing", "title": "Daily briefing (summaries)", "content": "summary",
     "filter": {"tags": [BRIEFING_TAG]},
     "description": "Short summaries of the stories tagged for the daily briefing."},
)

TOWNS = ("Harbour Bridge", "Larkmere", "Fennick Bay", "Ostervale", "Brindlewick", "Corrowdale",
         "Kestrel Point")
SOURCES = ("Coastal Herald", "Harbour Bridge Gazette", "Larkmere Courier", "Ostervale Post")
AUTHORS = ("Elin Marsh", "Tobias Rennard", "Priya Castell", "Owen Larkby", "Nadia Fenwold",
           "Jonah Pellow", "Ruth Amberley", "Kofi Brannoch", "Lena Vossbeck", "Marco Tellian")
TEAMS = ("Coastal Rovers", "Harbour Bridge Athletic", "Larkmere United", "Fennick Town",
         "Ostervale Wanderers", "Corrowdale Albion")


@dataclass(frozen=True)
class Template:
    title: str
    summary: str
    paragraphs: tuple[str, str]
    tags: tuple[str, ...]
    n: tuple[int, int] = (5, 60)


EN: dict[str, tuple[Template, ...]] = {
    "world": (
        Template("{town} opens a new public library on the waterfront",
                 "The library has a reading room, a children's corner and long opening hours.",
                 ("The building holds more than {n} thousand books and a small local history "
                  "collection donated by residents of {town}.",
                  "Librarians say the busiest hours so far have been after school, when the "
                  "children's corner fills up."),
                 ("libraries", "community"), (10, 40)),
        Template("Ferry service between {town} and {town2} resumes after winter repairs",
                 "The crossing runs hourly again, with a new ramp for bicycles and pushchairs.",
                 ("The ferry was out of service for {n} days while its engines were overhauled "
                  "and the landing stage at {town2} was rebuilt.",
                  "Operators expect the summer timetable, with later evening crossings, to start "
                  "next month."),
                 ("transport", "ferries"), (20, 45)),
        Template("{town} council approves plan for {n} new street trees",
                 "Planting starts in the autumn, beginning with the streets that have the fewest "
                  "trees today.",
                 ("Councillors voted for the plan after a consultation in which residents of "
                  "{town} suggested the streets most in need of shade.",
                  "Each tree will be looked after by the parks team for its first three years."),
                 ("environment", "council"), (80, 400)),
        Template("Volunteers clear {n} kilometres of coastline near {town}",
                 "More than a hundred people spent Saturday morning collecting litter from the "
                  "beaches.",
                 ("Most of what was collected was plastic packaging and fishing line, the "
                  "organisers said.",
                  "A second clean-up is planned for the beaches north of {town} next month."),
                 ("environment", "volunteering"), (3, 12)),
        Template("New footbridge links the two halves of {town}",
                 "The bridge shortens the walk between the station and the old town to a few "
                  "minutes.",
                 ("The footbridge is {n} metres long and wide enough for bicycles, with benches "
                  "at both ends.",
                  "Shopkeepers near the old market hope the bridge will bring more visitors "
                  "across the river."),
                 ("transport", "community"), (40, 120)),
        Template("{town} hosts regional festival of music and food",
                 "Bands, choirs and food stalls filled the harbour square over the weekend.",
                 ("Organisers counted around {n} hundred visitors on the busiest day, many of "
                  "them from {town2}.",
                  "The festival closed with a concert by the {town} youth orchestra."),
                 ("culture", "festivals"), (8, 30)),
        Template("Storm passes {town} with only minor damage, officials say",
                 "A few fallen branches and one flooded road were the main problems overnight.",
                 ("Crews cleared the coast road by mid-morning and all bus routes were running "
                  "again by lunchtime.",
                  "Forecasters expect calmer weather for the rest of the week in {town}."),
                 ("weather",), (1, 5)),
        Template("Schools in {town} trial a later start to the day",
                 "For one term, lessons at three schools will begin forty minutes later.",
                 ("Teachers will compare attendance and attention in class with the same term "
                  "last year.",
                  "Parents in {town} have been asked to share their views in a short survey."),
                 ("education",), (3, 5)),
    ),
    "business": (
        Template("{town} weekly market reports its busiest season in years",
                 "Stallholders say mild weather and new evening hours brought more shoppers.",
                 ("The market now has {n} stalls, selling vegetables, bread, flowers and "
                  "second-hand books.",
                  "The market committee plans to add covered seating before the winter."),
                 ("markets", "retail"), (30, 90)),
        Template("Bakery cooperative in {town} adds {n} jobs",
                 "The cooperative is opening a second oven room to meet orders from cafés.",
                 ("The cooperative is owned by its workers and has supplied bread to {town} "
                  "for more than a decade.",
                  "New staff will be trained in the early-morning shifts over the coming weeks."),
                 ("jobs", "food"), (4, 15)),
        Template("Harbour freight volumes rise {n} per cent at {town}",
                 "Timber, grain and building stone made up most of the extra cargo.",
                 ("The harbour authority said faster loading at the new quay helped ships turn "
                  "around in a single tide.",
                  "It expects steady traffic through the rest of the year."),
                 ("harbours", "trade"), (3, 18)),
        Template("Small workshops in {town} turn to solar power to cut costs",
                 "A shared scheme lets businesses on the industrial estate buy panels together.",
                 ("{n} workshops have joined so far, from a furniture maker to a bicycle "
                  "repairer.",
                  "Owners say the savings will show most clearly in the summer months."),
                 ("energy", "small business"), (6, 30)),
        Template("{town} bus company orders {n} electric buses",
                 "The first of the new buses should be on the road by next spring.",
                 ("The buses will run on the busiest routes between {town} and {town2}.",
                  "Charging points are being installed at the depot this winter."),
                 ("transport", "energy"), (4, 20)),
        Template("Cheesemakers from {town} win a regional prize",
                 "A soft goat's cheese took first place among more than {n} entries.",
                 ("The family dairy has made cheese in the hills above {town} for three "
                  "generations.",
                  "The judges praised the cheese for its mild, nutty flavour."),
                 ("food", "awards"), (40, 150)),
        Template("Shop rents in {town} hold steady after a busy year",
                 "Fewer empty units on the high street have kept rents level, agents say.",
                 ("Only {n} shop units in the town centre are currently empty, the lowest number "
                  "in five years.",
                  "New arrivals include a repair café and a children's bookshop."),
                 ("retail", "property"), (2, 9)),
        Template("Fishing fleet at {town} reports a good autumn catch",
                 "Calm seas allowed the boats to go out on most days of the season.",
                 ("The fleet of {n} boats landed more mackerel and crab than last autumn.",
                  "Most of the catch is sold at the early-morning fish market on the quay."),
                 ("fishing", "harbours"), (8, 25)),
    ),
    "science": (
        Template("Researchers count {n} species of seabird near {town}",
                 "The yearly survey found healthy numbers of terns and guillemots on the cliffs.",
                 ("Volunteers spent two weeks counting nests from boats and cliff-top paths.",
                  "The results will be compared with surveys going back twenty years."),
                 ("nature", "birds"), (12, 30)),
        Template("{town} observatory invites the public to view the night sky",
                 "Open evenings will show the Moon, bright planets and star clusters.",
                 ("The observatory's main telescope was restored last year by a team of {n} "
                  "volunteers.",
                  "Visitors are advised to dress warmly, as the dome is not heated."),
                 ("astronomy", "events"), (6, 20)),
        Template("Students in {town} build a weather station on the school roof",
                 "Readings of wind, rain and temperature are published online every hour.",
                 ("The station was built by {n} pupils as part of their science lessons.",
                  "Their data will be shared with the regional weather network."),
                 ("education", "weather"), (8, 30)),
        Template("Survey finds clearer water in the river at {town}",
                 "Tests show less silt and more insect life than five years ago.",
                 ("Scientists took samples at {n} points along the river, from the hills to "
                  "the estuary.",
                  "They credit new planting along the banks for holding back the soil."),
                 ("environment", "rivers"), (10, 40)),
        Template("Volunteers map old oak trees around {town}",
                 "The project has recorded {n} trees that are thought to be over two hundred "
                  "years old.",
                 ("Each tree is measured, photographed and added to a public map.",
                  "The oldest so far stands beside the road between {town} and {town2}."),
                 ("nature", "trees"), (40, 200)),
        Template("Seed library in {town} shares {n} varieties of vegetables",
                 "Gardeners borrow seeds in spring and return seeds from their harvest.",
                 ("Beans, squash and tomatoes are the most popular varieties.",
                  "The library keeps careful notes on how each variety grows in local soil."),
                 ("gardening", "community"), (30, 120)),
        Template("Tidal energy test begins off the coast near {town}",
                 "A small turbine will measure how much power the tides can provide.",
                 ("Engineers will run the test for {n} months before deciding on a larger "
                  "design.",
                  "Sensors around the turbine will also record its effect on fish and seals."),
                 ("energy", "oceans"), (6, 18)),
        Template("Bat survey near {town} records a rare visitor",
                 "Detectors picked up the calls of a species not seen in the area for years.",
                 ("The survey placed {n} detectors along hedgerows and old barns.",
                  "Ecologists will return in the summer to confirm the sighting."),
                 ("nature", "wildlife"), (10, 40)),
    ),
    "sport": (
        Template("{team} beat {team2} {a}-{b} in a close league match",
                 "A goal in the final minutes settled a hard-fought game.",
                 ("Both sides had chances in the first half, but the goalkeepers kept the "
                  "score level.",
                  "The win lifts {team} into the top half of the table."),
                 ("football", "league"), (2, 9)),
        Template("{n} runners take part in the {town} harbour fun run",
                 "Families, clubs and first-time runners completed the five-kilometre course.",
                 ("The route followed the harbour wall and the promenade before finishing in "
                  "the main square.",
                  "Entry fees will help pay for new kit for junior athletics in {town}."),
                 ("running", "community"), (150, 900)),
        Template("{town} rowing club wins the regional regatta",
                 "The club's crews won {n} of the day's races on calm water.",
                 ("The junior four were the stars of the day, winning their final by a "
                  "boat length.",
                  "The club is now raising money for a new boathouse roof."),
                 ("rowing",), (3, 8)),
        Template("Junior tennis tournament returns to {town}",
                 "More than {n} young players are expected on the courts this weekend.",
                 ("Matches start at nine each morning and spectators are welcome free of charge.",
                  "Coaches from {town2} will run taster sessions for beginners."),
                 ("tennis", "youth sport"), (40, 120)),
        Template("{team} and {team2} draw {a}-{a} in the rain",
                 "Heavy rain made for a scrappy game on a muddy pitch.",
                 ("Neither side could find much rhythm, and both managers said a draw was fair.",
                  "{team} stay unbeaten at home ahead of next week's match."),
                 ("football", "league"), (2, 9)),
        Template("Cyclists complete a {n}-kilometre charity ride from {town}",
                 "The ride raised money for the coastal rescue service.",
                 ("Riders set off at dawn and followed quiet lanes to {town2} and back.",
                  "Organisers thanked the volunteers who ran the refreshment stops."),
                 ("cycling", "charity"), (40, 160)),
        Template("New floodlights switched on at the {town} cricket ground",
                 "Evening matches can now be played well into the autumn.",
                 ("The floodlights use {n} per cent less electricity than the old lamps.",
                  "The first evening fixture drew a crowd of several hundred."),
                 ("cricket", "facilities"), (40, 70)),
        Template("Swimming club in {town} celebrates {n} years",
                 "Past and present members swam a relay across the bay to mark the occasion.",
                 ("The club started with a handful of members and a borrowed rowing boat for "
                  "safety.",
                  "Today it teaches hundreds of children in {town} to swim each year."),
                 ("swimming", "community"), (25, 90)),
    ),
}

EN_FILLER = (
    "Residents can find the full details on the {town} council noticeboard and at the town hall.",
    "Organisers said they would share further updates in the coming weeks.",
    "The {source} will follow the story and report any changes.",
    "Anyone with questions is invited to a drop-in session at the {town} community centre.",
)
EN_DRAFTS = (
    ("Harbour Bridge market to move indoors for the winter",
     "Stallholders are discussing a move to the old grain store.", "business"),
    ("Larkmere choir prepares for its spring concert",
     "Rehearsals have started for a programme of folk songs.", "world"),
)
EN_SCHEDULED = ("Harbour Bridge reopens to traffic after repainting",
                "The bridge reopens this morning after six weeks of maintenance work.", "world")

AR_TOWNS = ("المدينة الساحلية", "وادي الزيتون", "تل النخيل")
AR_SOURCE = "صحيفة الساحل"
AR_AUTHORS = {"world": "مراسل الشؤون المحلية", "business": "قسم الاقتصاد",
              "science": "قسم العلوم", "sport": "القسم الرياضي"}
AR_TAGS = {"world": "محلي", "business": "اقتصاد", "science": "علوم", "sport": "رياضة"}
# (section, title, summary, paragraphs, extra tag)
AR: tuple[tuple[str, str, str, tuple[str, str], str], ...] = (
    ("world", "افتتاح مكتبة عامة جديدة في {town}",
     "فتحت المكتبة العامة الجديدة أبوابها للزوار صباح اليوم، وتضم قاعة للقراءة وركنًا خاصًا للأطفال.",
     ("قال القائمون على المكتبة إن المبنى يضم أكثر من عشرين ألف كتاب في مجالات مختلفة.",
      "وتفتح المكتبة أبوابها يوميًا من التاسعة صباحًا حتى السابعة مساءً، والدخول مجاني للجميع."),
     "ثقافة"),
    ("world", "بلدية {town} تعلن خطة لتوسيع الحدائق العامة",
     "أعلنت البلدية عن خطة لزراعة ألف شجرة جديدة وإنشاء ممرات للمشاة خلال العام المقبل.",
     ("وأوضحت البلدية أن الأعمال ستبدأ في الأحياء الشمالية ثم تمتد إلى وسط المدينة.",
      "ودعت السكان إلى المشاركة في اختيار مواقع الحدائق الجديدة عبر استبيان مفتوح."),
     "بيئة"),
    ("business", "سوق {town} الأسبوعي يستقبل عددًا قياسيًا من الزوار",
     "شهد السوق الأسبوعي إقبالًا كبيرًا من الزوار الذين جاؤوا لشراء الخضروات والفواكه الطازجة.",
     ("وقال عدد من الباعة إن المبيعات ارتفعت مقارنة بالأسابيع الماضية بفضل اعتدال الطقس.",
      "ويقام السوق كل يوم سبت في الساحة الرئيسية منذ أكثر من ثلاثين عامًا."),
     "أسواق"),
    ("business", "افتتاح ورشة للحرف اليدوية في {town}",
     "افتتحت ورشة جديدة للحرف اليدوية تتيح للشباب تعلم صناعة الفخار والنسيج.",
     ("وقالت إدارة الورشة إنها تستقبل المتدربين مجانًا خلال الأشهر الثلاثة الأولى.",
      "ويأمل القائمون عليها أن تساعد الورشة في الحفاظ على الحرف التقليدية وتوفير فرص عمل جديدة."),
     "حرف"),
    ("science", "باحثون يرصدون طيورًا مهاجرة قرب {town}",
     "رصد فريق من الباحثين أسرابًا من الطيور المهاجرة تتوقف للراحة في الأراضي الرطبة القريبة.",
     ("ويقول الباحثون إن هذه الأراضي توفر للطيور الغذاء والمأوى خلال رحلتها الطويلة.",
      "وسيواصل الفريق تسجيل ملاحظاته حتى نهاية موسم الهجرة."),
     "طبيعة"),
    ("science", "مرصد {town} يفتح أبوابه لمشاهدة القمر",
     "دعا المرصد الفلكي السكان إلى أمسية مفتوحة لمشاهدة القمر والكواكب عبر التلسكوب.",
     ("وسيقدم علماء الفلك شرحًا مبسطًا عن أطوار القمر وحركة الكواكب.",
      "والمشاركة مجانية، ويُنصح الزوار بارتداء ملابس دافئة."),
     "فلك"),
    ("sport", "فريق {town} يفوز في مباراة كرة القدم المحلية",
     "حقق الفريق فوزًا مستحقًا بهدفين مقابل هدف واحد أمام جمهور كبير.",
     ("وسجل الفريق هدف الفوز في الدقائق الأخيرة من المباراة.",
      "ويستعد الفريق لمباراته المقبلة الأسبوع القادم على ملعبه."),
     "كرة القدم"),
    ("sport", "سباق الجري السنوي يجمع مئات المشاركين في {town}",
     "شارك مئات العدائين من مختلف الأعمار في سباق الجري السنوي على مسار يمر بالشوارع الرئيسية.",
     ("وأشاد المنظمون بروح المنافسة والتعاون بين المشاركين.",
      "وخُصص جزء من رسوم التسجيل لدعم الأندية الرياضية الشبابية."),
     "جري"),
)
AR_FILLER = ("ويمكن للقراء متابعة التفاصيل الكاملة على الموقع الإلكتروني للبلدية.",
             "وسننشر مزيدًا من المعلومات فور توفرها.")


def _paragraphs(texts: list[str]) -> str:
    return "\n".join(f"<p>{t}</p>" for t in texts)


# Makes the picture of a story (code, section) and answers its `image` fields (url, type,
# length, width, height): load_demo's draws an illustration and stores it as an upload.
Picture = Callable[[str, str], dict[str, Any]]


def _image(rng: random.Random, section: str, code: str, caption: str,
           picture: Picture | None) -> dict[str, Any] | None:
    if rng.random() >= 0.6:
        return None
    # The draws the archive always made here, kept so that every later draw (and so every
    # title, date and code) stays what it was.
    rng.choice(range(2))  # was the host
    rng.choice(range(3))  # was the size
    if rng.random() < 0.5:
        rng.randint(60_000, 480_000)  # was the byte length
    if picture is None:
        return None
    return {**picture(code, section), "caption": caption}


def _english(rng: random.Random, section: str) -> dict[str, Any]:
    template = rng.choice(EN[section])
    town, town2 = rng.sample(TOWNS, 2)
    team, team2 = rng.sample(TEAMS, 2)
    a = rng.randint(1, 4)
    values = {"town": town, "town2": town2, "team": team, "team2": team2, "a": a,
              "b": rng.randint(0, a - 1), "n": rng.randint(*template.n),
              "source": rng.choice(SOURCES)}
    paragraphs = [p.format(**values) for p in template.paragraphs]
    paragraphs += [f.format(**values) for f in rng.sample(EN_FILLER, rng.randint(0, 1))]
    tags = list(template.tags) + ([BRIEFING_TAG] if rng.random() < 0.25 else [])
    return {
        "title": template.title.format(**values),
        "summary": template.summary.format(**values),
        "paragraphs": paragraphs,
        "authors": rng.sample(AUTHORS, rng.choice((1, 1, 1, 2))),
        "source": values["source"],
        "section": section,
        "tags": tags,
        "language": "en",
        "caption": f"{town}: an illustration for the demo archive.",
        "town": town,
    }


def _arabic(rng: random.Random, entry: tuple[str, str, str, tuple[str, str], str],
            town: str) -> dict[str, Any]:
    section, title, summary, paragraphs, tag = entry
    texts = list(paragraphs) + rng.sample(AR_FILLER, rng.randint(0, 1))
    return {
        "title": title.format(town=town),
        "summary": summary,
        "paragraphs": texts,
        "authors": [AR_AUTHORS[section]],
        "source": AR_SOURCE,
        "section": section,
        "tags": [AR_TAGS[section], tag],
        "language": "ar",
        "caption": f"صورة توضيحية من {town}",
        "town": town,
    }


def demo_channels() -> list[dict[str, Any]]:
    """The demo channels, as records for create_channel."""
    return [{**c, "copyright": COPYRIGHT} for c in CHANNELS]


def demo_stories(now: datetime, picture: Picture | None = None) -> list[dict[str, Any]]:
    """The demo stories, as records for create_story: deterministic for a given `now`.

    Published stories come first, codes rising with their dates; then two drafts and one
    story scheduled SCHEDULED_IN after `now`. About six stories in ten have a picture, made by
    `picture` (without one, none has an image).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    rng = random.Random(SEED)
    drafts: list[dict[str, Any]] = [
        {**_arabic(rng, entry, town)} for entry in AR for town in AR_TOWNS
    ]
    n_english = TOTAL_STORIES - len(drafts) - len(EN_DRAFTS) - 1
    drafts += [_english(rng, SECTIONS[i % len(SECTIONS)]) for i in range(n_english)]
    span = ARCHIVE_DAYS * 24 * 3600
    for draft in drafts:
        offset = timedelta(seconds=rng.randint(15 * 60, span))
        draft["published_at"] = (now - offset).replace(second=0, microsecond=0)
    drafts.sort(key=lambda d: d["published_at"])

    records: list[dict[str, Any]] = []
    last_in_section: dict[tuple[str, str], tuple[str, str]] = {}  # (lang, section) -> code, town
    for i, draft in enumerate(drafts):
        code = str(FIRST_CODE + i)
        paragraphs = list(draft["paragraphs"])
        key = (draft["language"], draft["section"])
        earlier = last_in_section.get(key)
        if draft["language"] == "en" and i % 9 == 4:
            # Relative links, made absolute against the story page when stored.
            if earlier and len(paragraphs) < 4:
                paragraphs.append(f'Background: <a href="/stories/{earlier[0]}">our earlier '
                                  f"report from {earlier[1]}</a>.")
            elif len(paragraphs) < 4:
                paragraphs.append(f'More in <a href="../channels/{draft["section"]}">'
                                  f'{draft["section"].capitalize()}</a>.')
        last_in_section[key] = (code, draft["town"])
        records.append({
            "code": code,
            "title": draft["title"],
            "summary": draft["summary"],
            "body_html": _paragraphs(paragraphs),
            "authors": draft["authors"],
            "source": draft["source"],
            "section": draft["section"],
            "tags": draft["tags"],
            "language": draft["language"],
            "image": _image(rng, draft["section"], code, draft["caption"], picture),
            "status": "published",
            "published_at": draft["published_at"],
        })

    code = FIRST_CODE + len(records)
    for title, summary, section in EN_DRAFTS:
        records.append({
            "code": str(code), "title": title, "summary": summary, "section": section,
            "body_html": _paragraphs([summary, "This draft is not in any feed until it is "
                                      "published."]),
            "authors": [AUTHORS[code % len(AUTHORS)]], "source": SOURCES[0], "language": "en",
            "tags": ["community"], "status": "draft",
        })
        code += 1
    title, summary, section = EN_SCHEDULED
    records.append({
        "code": str(code), "title": title, "summary": summary, "section": section,
        "body_html": _paragraphs([summary, "Buses return to their usual routes across the "
                                  "bridge from today.", "Cyclists now have a wider lane on the "
                                  "seaward side."]),
        "authors": [AUTHORS[0]], "source": SOURCES[1], "language": "en",
        "tags": ["transport", BRIEFING_TAG], "status": "scheduled",
        "publish_at": (now + SCHEDULED_IN).replace(microsecond=0),
    })
    if picture is not None:
        records[-1]["image"] = {**picture(str(code), section),
                                "caption": "Harbour Bridge: an illustration for the demo archive."}
    return records


def _has_content(session: Session) -> bool:
    return (session.scalar(select(Story.id).limit(1)) is not None
            or session.scalar(select(Channel.id).limit(1)) is not None)


def load_demo(db: Database, settings: Settings, *, now: datetime) -> tuple[int, int] | None:
    """Load the demo archive into an empty database; return (channels, stories) created.

    Returns None, changing nothing, when the database already holds any story or channel.
    Everything is stored in one transaction: the archive is there entirely or not at all.
    """
    channels = demo_channels()
    with db.read() as session:
        if _has_content(session):
            return None  # before drawing ~120 pictures for nothing
    store = MediaStore.from_settings(settings)

    def picture(code: str, section: str) -> dict[str, Any]:
        # Stored before the transaction (content-addressed: a second load finds the files).
        return store.put(illustration(code, section))[0].as_image(settings)

    stories = demo_stories(now, picture)
    try:
        with db.write() as session:
            if _has_content(session):
                return None
            # Stories first: with no channel yet, no story has a channel version to bump.
            for record in stories:
                create_story(session, settings, record, now=now)
            for record in channels:
                create_channel(session, record, now=now)
    except Conflict:
        # Another process filled the database between our check and our writes.
        return None
    return len(channels), len(stories)
