"""Hostile and broken input through the real CLI: one `error:` line naming the file and where (line or dotted
key), exit code 2, no traceback, and nothing written. Accepted oddities (BOM, CRLF) are accepted unchanged.

Policy tested here:
- data files: a UTF-8 BOM and CRLF line endings are accepted; non-UTF-8 bytes, a truncated line, control
  characters (refused, never stripped), a paragraph over data.MAX_TEXT_CHARS and an empty file are refused;
- labels match exactly: " Humanitarian " is refused with a "did you mean 'humanitarian'?" hint, not normalised;
- configs: bad YAML, Python tags, non-UTF-8 bytes, duplicate keys and run names leaving output.dir are refused;
- run directories with pickles or remote code are refused by every command that reads one.
"""

import csv
import io
import json
import pickle
import shutil
import time

import pytest
from conftest import FIXTURE_DATA, ROOT, TINY_MODEL

from train.cli import main
from train.config import load_config
from train.data import corpus as data_module
from train.data.corpus import MAX_TEXT_CHARS, load_records, load_splits
from train.errors import UserError
from train.labels import label_set_for
from train.modeling.models import check_local_model_dir, resolve_model_source

FRAME = label_set_for("frame", None, None)
ROWS = [json.loads(line) for line in FIXTURE_DATA.read_text(encoding="utf-8").splitlines()]
CSV_FIELDS = ["id", "article_id", "text", "frame", "conflict", "source_type"]
BAD = 5  # index of the row made hostile: line 6 of the JSONL, line 7 of the CSV (after the header)
FORMATS = ["jsonl", "csv"]


def corpus_bytes(fmt: str, rows: list[dict], newline: str = "\n") -> bytes:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + newline for r in rows).encode("utf-8")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(CSV_FIELDS)
    writer.writerows([r[f] for f in CSV_FIELDS] for r in rows)
    return buffer.getvalue().encode("utf-8")


def line_of(fmt: str, index: int) -> int:
    return index + 1 + (fmt == "csv")


def with_text(text: str, index: int = BAD) -> list[dict]:
    rows = [dict(r) for r in ROWS]
    rows[index]["text"] = text
    return rows


def write(tmp_path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def refused(code: int, capsys, *needles: str) -> str:
    """Exit 2 and exactly one `error:` line, holding every needle; no traceback, no continuation lines."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert not any(line.startswith("  - ") for line in err.splitlines()), f"not one line:\n{err}"
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def train_cli(tmp_path, data_path, *extra: str) -> tuple[int, object]:
    out = tmp_path / "runs"
    code = main(["train", "configs/debug.yaml", f"data.path={data_path}", f"output.dir={out}", *extra])
    return code, out


# --- data files: accepted as they are ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("bom, newline", [(True, "\n"), (False, "\r\n"), (True, "\r\n")],
                         ids=["bom", "crlf", "bom+crlf"])
def test_bom_and_crlf_are_accepted_and_leave_no_trace_in_the_records(tmp_path, fmt, bom, newline):
    clean = write(tmp_path, f"clean.{fmt}", corpus_bytes(fmt, ROWS))
    odd = write(tmp_path, f"odd.{fmt}", (b"\xef\xbb\xbf" if bom else b"") + corpus_bytes(fmt, ROWS, newline))
    expected = load_records(clean, FRAME)
    records = load_records(odd, FRAME)
    assert records == expected
    assert not any("\ufeff" in str(v) or "\r" in str(v) for r in records for v in r.values())
    assert [r["text"] for r in records] == [r["text"] for r in ROWS]
    # the training loader splits them exactly like the clean file
    splits = {p: load_splits(load_config("configs/debug.yaml", [f"data.path={p}"]).data, FRAME, 42) for p in (clean, odd)}
    assert {k: v["id"] for k, v in splits[odd].items()} == {k: v["id"] for k, v in splits[clean].items()}


@pytest.mark.parametrize("bom, newline", [(True, "\n"), (False, "\r\n")], ids=["bom", "crlf"])
def test_data_check_accepts_bom_and_crlf(tmp_path, capsys, bom, newline):
    path = write(tmp_path, "odd.jsonl", (b"\xef\xbb\xbf" if bom else b"") + corpus_bytes("jsonl", ROWS, newline))
    assert main(["data", "check", str(path)]) == 0
    assert f"paragraphs: {len(ROWS)}" in capsys.readouterr().out


# --- data files: refused, naming file and line ------------------------------------------------------------


def _non_utf8(fmt):
    content = corpus_bytes(fmt, with_text("The shelling hit the PLACEHOLDER market."))
    return content.replace(b"PLACEHOLDER", b"caf\xe9"), line_of(fmt, BAD), "not UTF-8 text (byte offset"


def _truncated_last_line(fmt):
    content = corpus_bytes(fmt, ROWS)
    last = content.rstrip(b"\n").rsplit(b"\n", 1)[1]
    expected = "not valid JSON" if fmt == "jsonl" else "fewer cells than the header has columns"
    return content[: len(content) - len(last) // 2 - 1], line_of(fmt, len(ROWS) - 1), expected


def _control(char):
    def make(fmt):
        return (corpus_bytes(fmt, with_text(f"Officials said{char}[31m the strikes would go on.")), line_of(fmt, BAD),
                f"field 'text' has the control character U+{ord(char):04X} at character 15")
    return make


def _one_megabyte(fmt):
    text = "war " * 250_000
    expected = (f"field 'text' is 1,000,000 characters long; a paragraph may have at most {MAX_TEXT_CHARS:,}"
                if fmt == "jsonl" else f"a cell is over 131,072 characters; a paragraph may have at most {MAX_TEXT_CHARS:,}")
    return corpus_bytes(fmt, with_text(text)), line_of(fmt, BAD), expected


def _label(value):
    def make(fmt):
        rows = [dict(r) for r in ROWS]
        rows[BAD]["frame"] = value
        return (corpus_bytes(fmt, rows), line_of(fmt, BAD),
                f"field 'frame' has {value!r}, not one of counter_terrorism, power_projection, humanitarian, none; "
                f"did you mean 'power_projection'?")
    return make


BROKEN = {
    "non-utf8": _non_utf8,
    "truncated-last-line": _truncated_last_line,
    "nul": _control("\x00"),
    "escape": _control("\x1b"),
    "one-megabyte-paragraph": _one_megabyte,
    "label-spaces-and-case": _label(" Power_Projection "),
    "label-upper-case": _label("POWER_PROJECTION"),
    "label-hyphen": _label("power-projection"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_training_data_is_refused_before_training(tmp_path, capsys, fmt, case):
    content, line, expected = BROKEN[case](fmt)
    path = write(tmp_path, f"bad.{fmt}", content)
    started = time.perf_counter()
    code, out = train_cli(tmp_path, path)
    message = refused(code, capsys, str(path), f"line {line}: ", expected)
    assert message.startswith(f"error: {path}: line {line}: ")
    assert not out.exists(), "nothing may be written for a refused file"
    assert time.perf_counter() - started < 30, "must fail while loading data, before any training"


@pytest.mark.parametrize("case", list(BROKEN))
def test_data_check_refuses_the_same_files(tmp_path, capsys, case):
    content, line, expected = BROKEN[case]("jsonl")
    path = write(tmp_path, "bad.jsonl", content)
    refused(main(["data", "check", str(path)]), capsys, str(path), f"line {line}: ", expected.split(";")[0])


@pytest.mark.parametrize("fmt, content", [("jsonl", b""), ("jsonl", b"\n  \n\r\n"), ("csv", b""),
                                          ("csv", ",".join(CSV_FIELDS).encode() + b"\r\n")],
                         ids=["jsonl-empty", "jsonl-blank-lines", "csv-empty", "csv-header-only"])
def test_empty_data_file_is_refused(tmp_path, capsys, fmt, content):
    path = write(tmp_path, f"empty.{fmt}", content)
    code, out = train_cli(tmp_path, path)
    refused(code, capsys, str(path), "no rows; the file is empty")
    assert not out.exists()


def test_bom_in_the_middle_of_concatenated_files_names_the_line(tmp_path, capsys):
    head, tail = corpus_bytes("jsonl", ROWS[:10]), corpus_bytes("jsonl", ROWS[10:])
    path = write(tmp_path, "cat.jsonl", b"\xef\xbb\xbf" + head + b"\xef\xbb\xbf" + tail)
    code, out = train_cli(tmp_path, path)
    refused(code, capsys, str(path), "line 11: not valid JSON (Unexpected UTF-8 BOM")
    assert not out.exists()


def test_non_utf8_byte_deep_in_a_large_file_names_its_own_line(tmp_path):
    # The decoder only knows its buffer position; the error must name the file's line and byte offset.
    rows = [dict(ROWS[i % len(ROWS)], id=f"x{i}", text=f"Paragraph {i} of a long file.") for i in range(5000)]
    content = corpus_bytes("jsonl", rows)
    at = content.index(b"Paragraph 4321 ")
    path = write(tmp_path, "big.jsonl", content[:at] + b"\xff" + content[at + 1:])
    with pytest.raises(UserError) as info:
        load_records(path, FRAME)
    assert str(info.value) == f"{path}: line 4322: not UTF-8 text (byte offset {at}); re-save the file as UTF-8"


@pytest.mark.parametrize("value, problem", [(None, "got None"), ("  ", "got '  '"), (True, "got True"),
                                            ({"a": 1}, "got {'a': 1}")], ids=["null", "blank", "bool", "object"])
def test_ids_and_article_ids_must_be_plain_values(tmp_path, value, problem):
    rows = [dict(r) for r in ROWS]
    rows[BAD]["id"] = value
    rows[BAD + 1]["article_id"] = value
    path = write(tmp_path, "d.jsonl", corpus_bytes("jsonl", rows))
    with pytest.raises(UserError) as info:
        load_records(path, FRAME)
    assert info.value.problems == [
        f"line {BAD + 1}: field 'id' must be a non-empty string or integer, {problem}",
        f"line {BAD + 2}: field 'article_id' must be a non-empty string or integer, {problem}",
    ]


def test_long_paragraph_under_the_limit_is_kept_whole_and_truncated_by_the_tokenizer(tmp_path):
    from datasets import Dataset, DatasetDict

    from train.modeling.models import load_tokenizer
    from train.modeling.trainer import tokenize_splits

    text = ("The convoy waited at the crossing for another day. " * 3000)[:MAX_TEXT_CHARS]
    path = write(tmp_path, "long.jsonl", corpus_bytes("jsonl", with_text(text)))
    records = load_records(path, FRAME)
    assert records[BAD]["text"] == text and len(records) == len(ROWS)
    tokenizer = load_tokenizer(str(TINY_MODEL))
    tokenized = tokenize_splits(DatasetDict({"train": Dataset.from_list([{"text": text, "frame": "none"}])}),
                                tokenizer, FRAME, text_field="text", max_length=64)
    assert len(tokenized["train"][0]["input_ids"]) == 64


def test_text_problem_documents_refusal_not_stripping():
    assert data_module.text_problem("Tabs\tand\r\nline breaks are fine.") is None
    assert "U+0085" in data_module.text_problem("latin-1 mojibake \x85")
    assert data_module.text_problem("x" * MAX_TEXT_CHARS) is None
    assert "100,001 characters" in data_module.text_problem("x" * (MAX_TEXT_CHARS + 1))


def test_new_articles_for_predict_have_control_characters_removed_not_refused(tmp_path):
    # Unlabelled scraped text: one stray byte must not stop a corpus run; the tokenizer ignores them anyway.
    from train.data.articles import read_articles

    path = write(tmp_path, "a.txt", "Aid convoy\x00 reaches town\n\nTrucks\x1b[1m crossed\x7f the line.\x80\n".encode())
    assert [p.text for p in read_articles(path)] == ["Aid convoy reaches town", "Trucks[1m crossed the line."]


# --- configs ----------------------------------------------------------------------------------------------

BASE = f"base: {ROOT / 'configs' / 'debug.yaml'}\n"  # line 1: anything that slips through stays a tiny run


@pytest.mark.parametrize("text, expected", [
    (BASE + "training:\n  epochs: [1, 2\nseed: 3\n",
     "line 4, column 5: not valid YAML (expected ',' or ']', but got ':'; while parsing a flow sequence on line 3)"),
    (BASE + "training:\n  epochs: 2.0\n batch_size: 3\n", "line 4, column 2: not valid YAML (expected <block end>"),
    (BASE + "training:\n\tepochs: 2.0\n", "line 3, column 1: not valid YAML (found character '\\t'"),
    (BASE + "run_name: \"unclosed\n", "not valid YAML (found unexpected end of stream"),
], ids=["unclosed-bracket", "bad-indentation", "tab-indentation", "unclosed-quote"])
def test_malformed_yaml_names_file_and_line(tmp_path, capsys, text, expected):
    path = write(tmp_path, "c.yaml", text.encode())
    code = main(["train", str(path), f"output.dir={tmp_path / 'runs'}"])
    refused(code, capsys, f"error: {path}: ", expected)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system", "!!python/object/apply:subprocess.call",
                                 "!!python/object/new:os.system"])
def test_python_tags_are_refused_and_never_run(tmp_path, capsys, tag):
    marker = tmp_path / "pwned"
    path = write(tmp_path, "c.yaml", (BASE + f"run_name: {tag} [\"touch {marker}\"]\n").encode())
    code = main(["train", str(path), f"output.dir={tmp_path / 'runs'}"])
    refused(code, capsys, f"error: {path}: line 2, column 11: not valid YAML (could not determine a constructor for the tag")
    assert not marker.exists() and not (tmp_path / "runs").exists()


def test_non_utf8_config_names_the_line(tmp_path, capsys):
    path = write(tmp_path, "c.yaml", BASE.encode() + b"# caf\xe9\nseed: 1\n")
    refused(main(["train", str(path)]), capsys, f"error: {path}: line 2: not UTF-8 text")


def test_duplicate_key_is_refused_not_silently_overwritten(tmp_path, capsys):
    path = write(tmp_path, "c.yaml", (BASE + "training:\n  epochs: 1.0\n  batch_size: 2\n  epochs: 50.0\n").encode())
    refused(main(["train", str(path)]), capsys, f"error: {path}: line 5: key training.epochs appears twice (first on line 3)")


def test_top_level_list_is_refused(tmp_path, capsys):
    path = write(tmp_path, "c.yaml", b"- training\n- epochs\n")
    refused(main(["train", str(path)]), capsys, f"error: {path}: the top level must be a mapping")


def test_yaml_alias_bomb_fails_fast_with_a_bounded_message(tmp_path, capsys):
    # Nine levels of nine aliases: 9**9 strings if anything expanded it (a "billion laughs" config).
    levels = ["&a [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"&{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
    path = write(tmp_path, "c.yaml", (BASE + f"run_name: [{', '.join(levels)}]\n").encode())
    started = time.perf_counter()
    code = main(["train", str(path)])
    assert time.perf_counter() - started < 10
    message = refused(code, capsys, f"error: {path}: run_name: Input should be a valid string (got [", "[c.yaml:2]")
    assert len(message) < 500


@pytest.mark.parametrize("name", ["../../x", "../x", "/tmp/x", "a/../../x", ".hidden/../../x", "..", "x/y"])
def test_run_name_escaping_output_dir_is_refused_in_file_and_override(tmp_path, capsys, name):
    out = tmp_path / "deep" / "runs"
    path = write(tmp_path, "c.yaml", (BASE + f"run_name: {json.dumps(name)}\n").encode())
    refused(main(["train", str(path), f"output.dir={out}"]), capsys,
            f"error: {path}: run_name: {name!r} must be a plain folder name", "[c.yaml:2]")
    refused(main(["train", "configs/debug.yaml", f"run_name={name}", f"output.dir={out}"]), capsys,
            f"run_name: {name!r} must be a plain folder name", "[command line]")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["c.yaml"], "nothing may be created anywhere"


# --- run directories: pickles and remote code ---------------------------------------------------------------


class _Evil:
    """Unpickling this creates a marker file: proof that a pickle was (not) loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _pickle_next_to_safetensors(run, marker):
    (run / "pytorch_model.bin").write_bytes(pickle.dumps(_Evil(marker)))
    return "pytorch_model.bin"


def _pickle_only(run, marker):
    (run / "model.safetensors").unlink()
    (run / "pytorch_model.bin").write_bytes(pickle.dumps(_Evil(marker)))
    return "pytorch_model.bin"


def _json_key(name, key, value):
    def tamper(run, marker):
        config = json.loads((run / name).read_text(encoding="utf-8"))
        config[key] = value
        (run / name).write_text(json.dumps(config), encoding="utf-8")
        (run / "evil.py").write_text(f"open({str(marker)!r}, 'w')\n", encoding="utf-8")
        return f"{name}: key {key!r} asks for custom code"
    return tamper


TAMPERS = {
    "pickle-next-to-safetensors": _pickle_next_to_safetensors,
    "pickle-only": _pickle_only,
    "auto-map-in-config": _json_key("config.json", "auto_map", {"AutoModelForSequenceClassification": "evil.Model"}),
    "trust-remote-code-in-config": _json_key("config.json", "trust_remote_code", True),
    "auto-map-in-tokenizer-config": _json_key("tokenizer_config.json", "auto_map", {"AutoTokenizer": ["evil.Tok", None]}),
}


@pytest.fixture
def copied_run(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    return run


@pytest.fixture
def article_dir(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("Aid convoy reaches the town\n\nTrucks crossed the front line on Tuesday.\n",
                                  encoding="utf-8")
    return folder


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_predict_refuses_a_run_with_pickles_or_remote_code(copied_run, article_dir, tmp_path, capsys, tamper):
    marker = tmp_path / "pwned"
    expected = TAMPERS[tamper](copied_run, marker)
    out = tmp_path / "preds.jsonl"
    code = main(["predict", str(copied_run), str(article_dir), "--output", str(out)])
    refused(code, capsys, f"error: {copied_run}", expected, "refusing")
    assert list(tmp_path.glob("preds*")) == [] and not marker.exists()


ENTRY_POINTS = {
    "predict": lambda run, tmp: ["predict", str(run), str(tmp / "articles"), "--output", str(tmp / "out.jsonl")],
    "evaluate": lambda run, tmp: ["evaluate", "configs/eval-frame-minilm.yaml", f"run_dir={run}",
                                  f"output_dir={tmp / 'out'}", "bootstrap_samples=100", "baselines=false"],
    "card": lambda run, tmp: ["card", str(run)],
    "export": lambda run, tmp: ["export", str(run), "--onnx"],
    "push": lambda run, tmp: ["push", str(run), "--repo-id", "someone/something"],
    "select": lambda run, tmp: ["select", str(run), str(tmp / "articles"), "--output", str(tmp / "out.jsonl")],
}


@pytest.mark.parametrize("tamper", ["pickle-next-to-safetensors", "auto-map-in-config"])
@pytest.mark.parametrize("command", list(ENTRY_POINTS))
def test_every_command_reading_a_run_refuses_it(copied_run, article_dir, tmp_path, capsys, command, tamper):
    marker = tmp_path / "pwned"
    expected = TAMPERS[tamper](copied_run, marker)
    (copied_run / "README.md").unlink()  # `card` must not write a new one
    before = sorted(p.relative_to(copied_run) for p in copied_run.rglob("*"))
    refused(main(ENTRY_POINTS[command](copied_run, tmp_path)), capsys, f"error: {copied_run}", expected)
    assert sorted(p.relative_to(copied_run) for p in copied_run.rglob("*")) == before
    assert not marker.exists() and not list(tmp_path.glob("out*"))


def test_a_base_model_may_carry_a_pickle_next_to_safetensors_but_not_alone(tmp_path):
    base = tmp_path / "base"
    shutil.copytree(TINY_MODEL, base)
    (base / "pytorch_model.bin").write_bytes(pickle.dumps(_Evil(tmp_path / "pwned")))
    assert resolve_model_source(str(base))[0] == str(base)  # only the safetensors are ever loaded
    with pytest.raises(UserError, match="pickle files"):
        check_local_model_dir(base)  # but a run directory never holds one
    (base / "model.safetensors").unlink()
    with pytest.raises(UserError, match="only pickle weights"):
        resolve_model_source(str(base))
    assert not (tmp_path / "pwned").exists()


# --- what is not a user error stays visible ------------------------------------------------------------------


def test_unexpected_exception_is_not_turned_into_exit_2(monkeypatch, capsys):
    def boom(path):
        raise RuntimeError("a bug, not the user's fault")

    monkeypatch.setattr("train.data.check.check_corpus", boom)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["data", "check", str(FIXTURE_DATA)])
    assert "error:" not in capsys.readouterr().err


def test_keyboard_interrupt_exits_130_not_2(monkeypatch, capsys):
    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr("train.data.check.check_corpus", interrupted)
    assert main(["data", "check", str(FIXTURE_DATA)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "error:" not in err and "Traceback" not in err
