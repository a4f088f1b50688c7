"""Property-based tests (hypothesis) for the data loader, the paragraph splitter and the grouped splitter."""

import csv
import io
import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from train.data.articles import read_articles, split_paragraphs
from train.data.corpus import grouped_kfold, grouped_split, label_strata, load_records, normalise_text, read_rows, split_records
from train.errors import UserError
from train.labels import label_set_for

FRAME = label_set_for("frame", None, None)
FRAMES = label_set_for("frames", None, None)
FAST = settings(max_examples=60, deadline=None)

# --- the data loader ----------------------------------------------------------------------------------------

# Any printable text, with tabs and line breaks but no other control characters (those are refused: see
# data.text_problem), no surrogates (not encodable), and something that is not whitespace.
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r\r\n "),
               min_size=1, max_size=60).filter(lambda t: t.strip())
KEY = st.one_of(st.integers(0, 10**6), st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
                                                max_size=8).filter(lambda t: t.strip()))


@st.composite
def corpora(draw, multi_label: bool):
    rows = draw(st.lists(
        st.fixed_dictionaries({
            "id": KEY,
            "article_id": KEY,
            "text": TEXT,
            "label": (st.lists(st.sampled_from(FRAMES.names), max_size=4) if multi_label
                      else st.sampled_from(FRAME.names)),
        }),
        min_size=1, max_size=25,
        unique_by=(lambda r: str(r["id"]), lambda r: normalise_text(r["text"])),
    ))
    return rows


def write_corpus(folder: Path, fmt: str, rows: list[dict], field: str, draw_sep) -> Path:
    path = folder / f"d.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"id": r["id"], "article_id": r["article_id"], "text": r["text"],
                                            field: r["label"]}, ensure_ascii=False) + "\n" for r in rows),
                        encoding="utf-8")
        return path
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "article_id", "text", field])
    for r in rows:
        label = r["label"] if isinstance(r["label"], str) else draw_sep(r["label"])
        writer.writerow([r["id"], r["article_id"], r["text"], label])
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("multi_label", [False, True], ids=["frame", "frames"])
@FAST
@given(data=st.data())
def test_loader_keeps_every_row_once_with_its_id_text_and_label(fmt, multi_label, data):
    labels = FRAMES if multi_label else FRAME
    rows = data.draw(corpora(multi_label))

    def multi_cell(names):  # the three spellings of a multi-label CSV cell
        style = data.draw(st.sampled_from(["json", ";", "|"]))
        return json.dumps(names) if style == "json" else f" {style} ".join(names)

    with tempfile.TemporaryDirectory() as folder:
        path = write_corpus(Path(folder), fmt, rows, labels.field, multi_cell)
        raw = read_rows(path)
        records = load_records(path, labels)
    assert len(raw) == len(rows)
    assert [r.line for r in raw] == sorted(set(r.line for r in raw)), "line numbers increase, none repeats"
    assert [r["id"] for r in records] == [str(r["id"]) for r in rows], "no row lost, duplicated or reordered"
    assert [r["article_id"] for r in records] == [str(r["article_id"]) for r in rows]
    assert [r["text"] for r in records] == [r["text"] for r in rows], "text is kept exactly, not normalised"
    if multi_label:
        expected = [sorted(set(r["label"]), key=FRAMES.names.index) for r in rows]
    else:
        expected = [r["label"] for r in rows]
    assert [r[labels.field] for r in records] == expected


# --- the paragraph splitter ------------------------------------------------------------------------------------

WORD = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd"), max_codepoint=0x24F)
               | st.sampled_from(list(".,;:!?\"'()-—’")), min_size=1, max_size=10)
SPACE = st.sampled_from([" ", "  ", "\t", "\u00a0", " \u3000 "])
LINE_BREAK = st.sampled_from(["\n", "\r\n", " \n", "\n\t"])
BLANK = st.sampled_from(["\n\n", "\r\n\r\n", "\n  \n", "\n\n\n\n", "\n\t\n"])


@st.composite
def articles(draw):
    """(text, blocks): blocks separated by blank lines, each made of lines separated by single line breaks."""
    blocks = draw(st.lists(st.lists(st.lists(WORD, min_size=1, max_size=12), min_size=1, max_size=5),
                           min_size=1, max_size=6))
    parts = [draw(st.sampled_from(["", "\n", "  \n\n"]))]
    for b, block in enumerate(blocks):
        for i, line in enumerate(block):
            parts.append(draw(SPACE).join(line))
            if i < len(block) - 1:
                parts.append(draw(LINE_BREAK))
        parts.append(draw(BLANK) if b < len(blocks) - 1 else draw(st.sampled_from(["", "\n", "\n\n "])))
    return "".join(parts), blocks


def _no_space(text: str) -> str:
    return "".join(text.split())


@FAST
@given(articles())
def test_splitter_loses_and_duplicates_nothing_and_never_crosses_a_blank_line(article):
    text, blocks = article
    paragraphs = split_paragraphs(text)
    assert all(p and p == " ".join(p.split()) for p in paragraphs), "trimmed, one line, whitespace collapsed"
    # Every non-blank character comes back once, in order (a word broken at a hyphen may be re-joined).
    assert "".join(_no_space(p) for p in paragraphs) == _no_space(text)
    # Blank lines always separate: each block is exactly a run of whole paragraphs.
    block_chars = [_no_space(" ".join(" ".join(line) for line in block)) for block in blocks]
    cursor, run = 0, ""
    for paragraph in paragraphs:
        run += _no_space(paragraph)
        assert block_chars[cursor].startswith(run), "a paragraph straddles a blank line"
        if run == block_chars[cursor]:
            cursor, run = cursor + 1, ""
    assert cursor == len(blocks) and run == ""
    assert len(paragraphs) >= len(blocks)


@FAST
@given(articles())
def test_splitter_keeps_words_in_order_when_no_line_ends_in_a_hyphen(article):
    text, blocks = article
    assume(not any(line[-1].endswith("-") for block in blocks for line in block))
    assert " ".join(split_paragraphs(text)).split() == text.split()


@FAST
@given(articles(), st.booleans(), st.sampled_from(["story", "Doha talks", "x.y"]))
def test_txt_file_paragraphs_have_consecutive_positions_from_zero(article, bom, stem):
    text, _ = article
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{stem}.txt"
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
        paragraphs = list(read_articles(path))
    assert [p.position for p in paragraphs] == list(range(len(paragraphs)))
    assert {p.article_id for p in paragraphs} == {stem}
    assert [p.text for p in paragraphs] == split_paragraphs(text)


# --- the grouped splitter ----------------------------------------------------------------------------------------


@st.composite
def grouped_rows(draw, multi_label=False):
    n_groups = draw(st.integers(2, 30))
    sizes = draw(st.lists(st.integers(1, 6), min_size=n_groups, max_size=n_groups))
    label = st.lists(st.sampled_from(FRAMES.names), max_size=3, unique=True) if multi_label else st.sampled_from(FRAME.names)
    rows = []
    for g, size in enumerate(sizes):
        for _ in range(size):
            rows.append({"id": f"p{len(rows)}", "article_id": f"a{g}", "text": "t",
                         ("frames" if multi_label else "frame"): draw(label)})
    order = draw(st.permutations(range(len(rows))))  # an article's paragraphs need not be adjacent
    return [rows[i] for i in order]


def _groups(rows):
    return [r["article_id"] for r in rows]


@FAST
@given(grouped_rows(), st.sampled_from([0.1, 0.15, 0.2, 0.3, 0.45]), st.integers(0, 2**31))
def test_grouped_split_partitions_rows_by_whole_groups_deterministically(rows, held_out, seed):
    strata, groups = label_strata(rows, FRAME), _groups(rows)
    try:
        keep, out = grouped_split(strata, groups, held_out, seed)
    except UserError as exc:
        folds = max(2, round(1 / held_out))
        assert len(set(groups)) < folds or max(Counter(strata).values()) < folds
        assert "too few" in str(exc)
        return
    assert sorted([*keep, *out]) == list(range(len(rows))), "every row in exactly one side"
    assert not {groups[i] for i in keep} & {groups[i] for i in out}, "no article on both sides"
    assert len(out) > 0 and len(keep) > 0
    again = grouped_split(strata, groups, held_out, seed)
    assert keep.tolist() == again[0].tolist() and out.tolist() == again[1].tolist()


@FAST
@given(grouped_rows(), st.integers(2, 6), st.integers(0, 2**31))
def test_grouped_kfold_holds_every_row_out_exactly_once(rows, folds, seed):
    strata, groups = label_strata(rows, FRAME), _groups(rows)
    assume(len(set(groups)) >= folds and max(Counter(strata).values()) >= folds)
    held = Counter()
    for keep, out in grouped_kfold(strata, groups, folds, seed):
        assert sorted([*keep, *out]) == list(range(len(rows)))
        assert not {groups[i] for i in keep} & {groups[i] for i in out}
        held.update(out.tolist())
    assert held == Counter(range(len(rows))), "each row held out in exactly one fold"
    first = [(k.tolist(), o.tolist()) for k, o in grouped_kfold(strata, groups, folds, seed)]
    assert first == [(k.tolist(), o.tolist()) for k, o in grouped_kfold(strata, groups, folds, seed)]


@pytest.mark.parametrize("multi_label", [False, True], ids=["frame", "frames"])
@FAST
@given(data=st.data())
def test_split_records_puts_each_row_in_one_split_and_each_article_in_one_split(multi_label, data):
    labels = FRAMES if multi_label else FRAME
    rows = data.draw(grouped_rows(multi_label))
    seed = data.draw(st.integers(0, 2**31))
    sizes = dict(validation_size=data.draw(st.sampled_from([0.1, 0.15, 0.2])),
                 test_size=data.draw(st.sampled_from([0.1, 0.15, 0.2])))
    try:
        splits = split_records(rows, labels, seed=seed, **sizes)
    except UserError as exc:  # the one allowed failure: a corpus too small to split, said plainly
        assert "too few" in str(exc)
        return
    assert set(splits) == {"train", "validation", "test"}
    ids = Counter(r["id"] for part in splits.values() for r in part)
    assert ids == Counter(r["id"] for r in rows), "every row in exactly one split, none lost or duplicated"
    owner = {}
    for name, part in splits.items():
        for r in part:
            assert owner.setdefault(r["article_id"], name) == name, "an article in two splits"
    by_id = {r["id"]: r for r in rows}
    assert all(r == by_id[r["id"]] for part in splits.values() for r in part), "records pass through unchanged"
    again = split_records(rows, labels, seed=seed, **sizes)
    assert {k: [r["id"] for r in v] for k, v in again.items()} == {k: [r["id"] for r in v] for k, v in splits.items()}
