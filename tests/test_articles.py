import inspect
import json

import pytest

from train.data.articles import InputProblem, Paragraph, list_inputs, read_articles, split_paragraphs
from train.errors import UserError

# All example prose below is invented for these tests.

WIRE_STORY = """Ceasefire talks resume in Doha as aid stalls

DOHA, March 3 (Reuters) -
Negotiators from the government and the armed opposition resumed talks on Monday, a spokesperson for the \
mediators said, after a two-week pause over the release of detainees.

Both delegations arrived   late in the evening.\tA senior official on the government side said the first \
session would focus on a local truce around the northern highway.
Aid agencies warn of shortages
Relief groups said on Sunday that more than forty trucks were waiting at the border crossing, some of them \
for nine days.

"We cannot keep food on a truck forever," a logistics coordinator for one agency said.
"""

WIRE_PARAGRAPHS = [
    "Ceasefire talks resume in Doha as aid stalls",
    "DOHA, March 3 (Reuters) -",
    "Negotiators from the government and the armed opposition resumed talks on Monday, a spokesperson for the "
    "mediators said, after a two-week pause over the release of detainees.",
    "Both delegations arrived late in the evening. A senior official on the government side said the first "
    "session would focus on a local truce around the northern highway.",
    "Aid agencies warn of shortages",
    "Relief groups said on Sunday that more than forty trucks were waiting at the border crossing, some of them "
    "for nine days.",
    '"We cannot keep food on a truck forever," a logistics coordinator for one agency said.',
]

ONE_PER_LINE = """US, Russia New Talks
WASHINGTON —
Diplomats from both countries will meet in Vienna next week to discuss the exchange of prisoners, a State \
Department spokesperson said on Friday.
The talks are the first of their kind in more than a year, and neither side has said how long they will last.
Security Council diplomats said privately that expectations were low.
"""

# Hard-wrapped at 70 columns, with breaks before a proper noun ("United Nations", "Red Crescent"), after a
# comma, inside a hyphenated compound, and a short subheading that must stay on its own.
HARD_WRAPPED = """Hospitals cut surgery as fuel runs out

GENEVA, June 12 (Reuters) -
Fuel shortages forced two of the three hospitals in the eastern
district to suspend all but emergency surgery on Thursday, according
to a health official who asked not to be named because he was not
authorised to speak to reporters.
Tankers turned back
A convoy of fuel tankers organised by the agencies of the
United Nations was turned back at the last checkpoint before the city,
a spokesperson for the humanitarian coordination office said, adding
that talks with the local commander had been going on since Monday.

Drivers waited for eleven hours in the heat. Some of them had brought
their own water, a driver for a private contractor said, and the
Red Crescent sent a team with bottled water and first aid kits in the
afternoon. A local official called the delay a breach of the cease-
fire terms agreed in the spring.
"""


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def texts(paragraphs):
    return [p.text for p in paragraphs]


def problem(path, **fields) -> str:
    with pytest.raises(InputProblem) as info:
        list(read_articles(path, **fields))
    return str(info.value)


# --- split_paragraphs -------------------------------------------------------------------------------------


def test_wire_story_keeps_headline_dateline_and_subheading_apart():
    assert split_paragraphs(WIRE_STORY) == WIRE_PARAGRAPHS


def test_one_paragraph_per_line_layout():
    assert split_paragraphs(ONE_PER_LINE) == [
        "US, Russia New Talks",
        "WASHINGTON —",
        "Diplomats from both countries will meet in Vienna next week to discuss the exchange of prisoners, a "
        "State Department spokesperson said on Friday.",
        "The talks are the first of their kind in more than a year, and neither side has said how long they will "
        "last.",
        "Security Council diplomats said privately that expectations were low.",
    ]


def test_hard_wrapped_text_rejoins_into_paragraphs():
    assert max(len(line) for line in HARD_WRAPPED.splitlines()) <= 70
    assert split_paragraphs(HARD_WRAPPED) == [
        "Hospitals cut surgery as fuel runs out",
        "GENEVA, June 12 (Reuters) -",
        "Fuel shortages forced two of the three hospitals in the eastern district to suspend all but emergency "
        "surgery on Thursday, according to a health official who asked not to be named because he was not "
        "authorised to speak to reporters.",
        "Tankers turned back",
        "A convoy of fuel tankers organised by the agencies of the United Nations was turned back at the last "
        "checkpoint before the city, a spokesperson for the humanitarian coordination office said, adding that "
        "talks with the local commander had been going on since Monday.",
        "Drivers waited for eleven hours in the heat. Some of them had brought their own water, a driver for a "
        "private contractor said, and the Red Crescent sent a team with bottled water and first aid kits in the "
        "afternoon. A local official called the delay a breach of the cease-fire terms agreed in the spring.",
    ]


def test_short_unpunctuated_lines_in_wide_text_are_not_joined_to_the_next():
    # Lines too wide to be hard-wrapped: a caption without a full stop stays apart from the paragraph after it.
    text = ("Displaced families queue for water at a camp outside the city on Monday morning after the shelling stopped\n"
            "Camp managers said the number of arrivals had doubled since the weekend and that tents were running out.")
    assert len(split_paragraphs(text)) == 2


def test_wrapped_mid_sentence_line_joins_lowercase_continuation():
    assert split_paragraphs("The strike at the port entered\nits third week on Tuesday.\n") == [
        "The strike at the port entered its third week on Tuesday."
    ]


def test_blank_and_whitespace_only_text_has_no_paragraphs():
    assert split_paragraphs("") == []
    assert split_paragraphs(" \n\t\n  \n") == []


# --- .txt -------------------------------------------------------------------------------------------------


def test_txt_is_one_article_named_by_its_stem(tmp_path):
    path = write(tmp_path, "doha-talks.txt", WIRE_STORY)
    paragraphs = list(read_articles(path))
    assert paragraphs[0] == Paragraph("doha-talks", 0, WIRE_PARAGRAPHS[0], str(path))
    assert [p.position for p in paragraphs] == list(range(len(WIRE_PARAGRAPHS)))
    assert {p.article_id for p in paragraphs} == {"doha-talks"}
    assert texts(paragraphs) == WIRE_PARAGRAPHS


def test_txt_with_bom_and_crlf_line_endings(tmp_path):
    path = write(tmp_path, "windows.txt", ("\ufeff" + WIRE_STORY.replace("\n", "\r\n")).encode("utf-8"))
    assert texts(read_articles(path)) == WIRE_PARAGRAPHS


def test_hard_wrapped_txt_file(tmp_path):
    path = write(tmp_path, "fuel.txt", HARD_WRAPPED.replace("\n", "\r\n"))
    paragraphs = list(read_articles(path))
    assert len(paragraphs) == 6
    assert paragraphs[4].text.startswith("A convoy of fuel tankers organised by the agencies of the United Nations")


# --- .jsonl and .csv --------------------------------------------------------------------------------------


def test_read_articles_is_a_lazy_generator(tmp_path):
    path = write(tmp_path, "feed.jsonl", json.dumps({"text": "Talks resumed on Monday."}) + "\n{broken\n")
    stream = read_articles(path)
    assert inspect.isgenerator(stream)
    # The first record comes out before the broken second line is even read.
    assert next(stream).text == "Talks resumed on Monday."
    with pytest.raises(InputProblem, match="line 2"):
        next(stream)


def test_jsonl_without_id_field_makes_each_record_an_article(tmp_path):
    records = [
        {"text": "PORT SUDAN —\nDock workers walked out on Wednesday.\n\nUnion leaders said the strike would last."},
        {"text": "Flour prices doubled in the capital.", "id": "ignored-without-id-field"},
    ]
    path = write(tmp_path, "feed.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    got = [(p.article_id, p.position, p.text) for p in read_articles(path)]
    assert got == [
        ("feed:1", 0, "PORT SUDAN —"),
        ("feed:1", 1, "Dock workers walked out on Wednesday."),
        ("feed:1", 2, "Union leaders said the strike would last."),
        ("feed:2", 0, "Flour prices doubled in the capital."),
    ]


def test_jsonl_with_id_field_continues_articles_across_consecutive_records(tmp_path):
    lines = [
        {"doc": 17, "body": "Mediators proposed a three-day pause in the fighting."},
        {"doc": 17, "body": "Both sides said they would study the proposal.\nA reply is expected on Friday."},
        {"doc": "a-2", "body": "Teachers in the northern province went on strike over unpaid wages."},
        {"body": "A record without an id falls back to its line number."},
    ]
    content = "\r\n".join(json.dumps(r) for r in lines[:2]) + "\r\n\r\n" + "\r\n".join(json.dumps(r) for r in lines[2:])
    path = write(tmp_path, "wire.jsonl", "\ufeff" + content + "\r\n")
    got = [(p.article_id, p.position, p.text) for p in read_articles(path, text_field="body", id_field="doc")]
    assert got == [
        ("17", 0, "Mediators proposed a three-day pause in the fighting."),
        ("17", 1, "Both sides said they would study the proposal."),
        ("17", 2, "A reply is expected on Friday."),
        ("a-2", 0, "Teachers in the northern province went on strike over unpaid wages."),
        ("wire:5", 0, "A record without an id falls back to its line number."),
    ]
    assert {p.source for p in read_articles(path, text_field="body", id_field="doc")} == {str(path)}


def test_jsonl_article_split_by_another_article_is_refused(tmp_path):
    rows = [{"a": "x", "text": "One."}, {"a": "y", "text": "Two."}, {"a": "x", "text": "Three."}]
    path = write(tmp_path, "mixed.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    message = problem(path, id_field="a")
    assert "mixed.jsonl: line 3" in message and "'x'" in message and "line 1" in message


def test_csv_with_and_without_id_field(tmp_path):
    content = (
        "article,text\r\n"
        "k1,\"Aid trucks reached the camp on Tuesday.\r\n\r\nThe camp holds about 20,000 people.\"\r\n"
        "k1,Another convoy is planned for next week.\r\n"
        "k2,Negotiators met again in Cairo.\r\n"
    )
    path = write(tmp_path, "aid.csv", "\ufeff" + content)
    with_id = [(p.article_id, p.position, p.text) for p in read_articles(path, id_field="article")]
    assert with_id == [
        ("k1", 0, "Aid trucks reached the camp on Tuesday."),
        ("k1", 1, "The camp holds about 20,000 people."),
        ("k1", 2, "Another convoy is planned for next week."),
        ("k2", 0, "Negotiators met again in Cairo."),
    ]
    # Without an id field every row is its own article, named by reader.line_num (the row's last line).
    without_id = [(p.article_id, p.position) for p in read_articles(path)]
    assert without_id == [("aid:4", 0), ("aid:4", 1), ("aid:5", 0), ("aid:6", 0)]


# --- .html ------------------------------------------------------------------------------------------------

ARTICLE_PARAGRAPHS = [
    "A convoy of twelve trucks carrying flour, medicine and water purification tablets reached the besieged town "
    "on Tuesday, the first delivery in nearly six weeks, according to a spokesperson for the regional relief "
    "coordination office.",
    "The trucks crossed two checkpoints held by rival armed groups before dawn, and the drivers were searched at "
    "each one, a logistics officer travelling with the convoy said by telephone.",
    "Residents had been rationing bread for weeks. A schoolteacher in the town said families were sharing a single "
    "meal a day, and that the local clinic had run out of insulin and antibiotics in early spring.",
    "Negotiators from both sides are expected to meet again next week to discuss a wider ceasefire, but a senior "
    "diplomat involved in the talks cautioned that no agreement on the corridors was yet in sight.",
]

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Aid convoy reaches besieged town | Example News</title></head>
<body>
<header><nav class="menu"><ul>
  <li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/business">Business</a></li>
  <li><a href="/sport">Sport</a></li><li><a href="/subscribe">Subscribe now</a></li>
</ul></nav></header>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience.
  <button>Accept all cookies</button><button>Manage preferences</button></div>
<main>
<article>
<h1>Aid convoy reaches besieged town after weeks of delay</h1>
<p class="byline">By a staff correspondent</p>
""" + "\n".join(f"<p>{text}</p>" for text in ARTICLE_PARAGRAPHS) + """
</article>
<aside class="most-read"><h2>Most read</h2><ul><li><a href="/a">Ten gadgets for your kitchen</a></li></ul></aside>
</main>
<footer><p>Copyright Example News Group. All rights reserved.</p>
  <a href="/privacy">Privacy policy</a> <a href="/terms">Terms of use</a></footer>
</body></html>
"""


def test_html_article_text_without_boilerplate(tmp_path):
    path = write(tmp_path, "convoy.html", PAGE)
    paragraphs = list(read_articles(path))
    got = texts(paragraphs)
    # The headline comes first; the byline may be dropped; the four paragraphs follow in order.
    assert got[0] == "Aid convoy reaches besieged town after weeks of delay"
    assert [t for t in got if t in ARTICLE_PARAGRAPHS] == ARTICLE_PARAGRAPHS
    assert got[-4:] == ARTICLE_PARAGRAPHS
    joined = "\n".join(got)
    for boilerplate in ("Accept all cookies", "cookies", "Subscribe now", "Business", "Privacy policy",
                        "All rights reserved", "Ten gadgets", "Most read"):
        assert boilerplate not in joined
    assert {p.article_id for p in paragraphs} == {"convoy"}
    assert [p.position for p in paragraphs] == list(range(len(paragraphs)))


def test_html_without_main_text_is_a_problem(tmp_path):
    path = write(tmp_path, "menu.htm", "<html><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
                                       "</body></html>")
    assert "menu.htm" in problem(path)


# --- bad inputs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, content, line", [
    # A BOM first, so the offset is counted in the file's bytes, BOM included. 0xE9 is Latin-1 "é".
    ("story.txt", b"\xef\xbb\xbfTalks resumed.\r\nThe caf\xe9 near the port closed.\r\n", 2),
    ("feed.jsonl", b'\xef\xbb\xbf{"text": "Fine."}\n{"text": "The caf\xe9 closed."}\n', 2),
    ("table.csv", b"\xef\xbb\xbftext\r\nFine.\r\nThe caf\xe9 closed.\r\n", 3),
    ("page.html", b"<html><body><p>Caf\xe9</p></body></html>", 1),
])
def test_non_utf8_bytes_name_line_and_byte_offset(tmp_path, name, content, line):
    message = problem(write(tmp_path, name, content))
    assert f"{name}: line {line}" in message and "not UTF-8" in message
    offset = content.index(b"\xe9")
    assert f"byte offset {offset}" in message


@pytest.mark.parametrize("name, content", [
    ("empty.txt", ""), ("blank.txt", "\n  \r\n"), ("empty.jsonl", "\n\n"), ("empty.csv", ""),
    ("header-only.csv", "id,text\r\n"), ("empty.html", " "),
])
def test_empty_files(tmp_path, name, content):
    assert name in problem(write(tmp_path, name, content))


def test_bad_json_line_names_the_line(tmp_path):
    path = write(tmp_path, "feed.jsonl", '{"text": "Fine."}\n{"text": "unterminated\n')
    message = problem(path)
    assert "feed.jsonl: line 2" in message and "not valid JSON" in message


def test_json_line_that_is_not_an_object(tmp_path):
    path = write(tmp_path, "feed.jsonl", '["a list", "of strings"]\n')
    assert "feed.jsonl: line 1: expected a JSON object, got list" in problem(path)


def test_missing_text_field_lists_the_fields_there_are(tmp_path):
    path = write(tmp_path, "feed.jsonl", json.dumps({"id": 1, "body": "Talks stalled."}) + "\n")
    message = problem(path)
    assert "feed.jsonl: line 1" in message and "'text'" in message and "'id', 'body'" in message
    csv_path = write(tmp_path, "feed.csv", "id,body\n1,Talks stalled.\n")
    assert "feed.csv: line 2" in problem(csv_path) and "'body'" in problem(csv_path)


def test_text_field_that_is_not_a_string(tmp_path):
    path = write(tmp_path, "feed.jsonl", json.dumps({"text": 42}) + "\n")
    assert "feed.jsonl: line 1: field 'text' is int, not a string" in problem(path)


def test_csv_row_with_extra_cells(tmp_path):
    path = write(tmp_path, "rows.csv", "id,text\n1,Strike ends.,surplus\n")
    assert "rows.csv: line 2" in problem(path)


def test_read_articles_missing_file(tmp_path):
    assert "gone.txt" in problem(tmp_path / "gone.txt")


# --- list_inputs ------------------------------------------------------------------------------------------


def test_list_inputs_expands_folders_sorted_and_skips_other_files(tmp_path):
    for name in ("b.txt", "a.jsonl", "sub/c.html", "sub/d.HTM", "notes.md", ".hidden/e.txt", "sub/f.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    single = tmp_path / "b.txt"
    got = list_inputs([str(single), str(tmp_path)])
    assert got == [single, tmp_path / "a.jsonl", tmp_path / "sub/c.html", tmp_path / "sub/d.HTM",
                   tmp_path / "sub/f.csv"]


def test_list_inputs_rejects_missing_unsupported_and_empty(tmp_path):
    with pytest.raises(UserError, match="nowhere.txt: no such file or folder"):
        list_inputs([str(tmp_path / "nowhere.txt")])
    report = write(tmp_path, "report.docx", "x")
    with pytest.raises(UserError, match=r"report\.docx: unsupported input format '\.docx'"):
        list_inputs([str(report)])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty: folder has no"):
        list_inputs([str(tmp_path / "empty")])
    with pytest.raises(UserError):
        list_inputs([])


def test_read_articles_rejects_unsupported_suffix(tmp_path):
    assert "report.docx" in problem(write(tmp_path, "report.docx", "x"))
