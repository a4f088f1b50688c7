"""`framing select RUN_DIR UNLABELLED...`: the paragraphs most worth labelling next (uncertainty sampling).

Scores come from `framing predict` itself (same reader, windows, temperature), run into a temporary folder; this
module only ranks them, caps each article's share and writes the choice in a labelling tool's import format.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from train.errors import UserError

STRATEGIES = ("entropy", "margin", "random")
FORMATS = ("label-studio", "doccano", "jsonl")


@dataclass
class SelectOptions:
    output: Path
    n: int = 200
    strategy: str = "entropy"
    per_article: int | None = None
    seed: int = 0
    fmt: str = "jsonl"
    text_field: str = "text"
    id_field: str | None = "article_id"  # our paragraph files: records of one article continue it
    batch_size: int = 16
    overwrite: bool = False
    progress: bool = True


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def uncertainty(probabilities: dict[str, float], strategy: str, multi_label: bool,
                thresholds: dict[str, float] | None = None) -> float:
    """Higher is more uncertain. Multi-label: mean binary entropy, or the closest call to a threshold."""
    names = list(probabilities)
    p = np.array([probabilities[n] for n in names], dtype=np.float64)
    if multi_label:
        if strategy == "entropy":
            return float(np.mean([_entropy(np.array([q, 1 - q])) for q in p]))
        cut = np.array([(thresholds or {}).get(n, 0.5) for n in names])
        return -float(np.min(np.abs(p - cut)))
    if strategy == "entropy":
        return _entropy(p)
    top = np.sort(p)[::-1]
    return -float(top[0] - (top[1] if len(top) > 1 else 0.0))


def rank(records: list[dict], key: str, strategy: str, multi_label: bool, seed: int,
         thresholds: dict[str, float] | None = None) -> list[tuple[float, dict]]:
    """(score, record), most worth labelling first. Ties go to reading order, so a seed fixes everything."""
    measure = "entropy" if strategy == "random" else strategy  # random still reports each pick's entropy
    scored = [(round(uncertainty(r[f"{key}_probabilities"], measure, multi_label, thresholds), 9), i, r)
              for i, r in enumerate(records)]
    if strategy == "random":
        return [(scored[i][0], scored[i][2]) for i in np.random.default_rng(seed).permutation(len(scored))]
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [(score, r) for score, _, r in scored]


def cap_per_article(ranked: list[tuple[float, dict]], n: int, per_article: int | None) -> list[tuple[float, dict]]:
    """Greedy in rank order: at most `per_article` paragraphs of one article, so a batch covers many articles."""
    taken: Counter = Counter()
    chosen = []
    for score, record in ranked:
        if len(chosen) == n:
            break
        if per_article is not None and taken[record["article_id"]] >= per_article:
            continue
        taken[record["article_id"]] += 1
        chosen.append((score, record))
    return chosen


def _score_pool(run_dir: Path, inputs: list[str], options: SelectOptions, work: Path) -> list[dict]:
    from train.data.interchange import read_jsonl
    from train.inference.predict import PredictOptions, run_predict

    predict_options = PredictOptions(output=work / "scores.jsonl", text_field=options.text_field,
                                     id_field=options.id_field, batch_size=options.batch_size,
                                     progress=options.progress)
    # predict's summary line names the temporary files: not useful to whoever runs select.
    with contextlib.redirect_stdout(io.StringIO()):
        records_path, _ = run_predict([str(run_dir), *inputs], predict_options)
    return list(read_jsonl(records_path))


def _check(paths: list[str], options: SelectOptions) -> tuple[Path, list[str]]:
    from train.inference.predict import is_run_dir

    if options.strategy not in STRATEGIES:
        raise UserError(f"--strategy {options.strategy!r}: use one of {', '.join(STRATEGIES)}")
    if options.fmt not in FORMATS:
        raise UserError(f"--format {options.fmt!r}: use one of {', '.join(FORMATS)}")
    if options.n < 1:
        raise UserError(f"--n {options.n}: choose at least 1 paragraph")
    if options.per_article is not None and options.per_article < 1:
        raise UserError(f"--per-article {options.per_article}: use 1 or more, or leave it out for no cap")
    if not paths or not is_run_dir(paths[0]):
        raise UserError(f"{paths[0] if paths else 'RUN_DIR'}: not a run directory (labels.json and config.json); "
                        "give the run first, then the unlabelled inputs")
    if len(paths) < 2 or any(is_run_dir(p) for p in paths[1:]):
        raise UserError("give one run directory, then one or more unlabelled inputs (.txt folders, .jsonl, .csv)")
    if options.output.exists() and not options.overwrite:
        raise UserError(f"{options.output}: already exists; pass --overwrite to replace it")
    return Path(paths[0]), paths[1:]


def _output_record(record: dict, key: str, score: float, position: int, strategy: str) -> dict:
    from train.data.interchange import paragraph_id

    out = {"id": paragraph_id(record), "article_id": record["article_id"], "position": record["position"],
           "text": record["text"], "source": record["source"]}
    out.update(selection_rank=position, selection_score=score, selection_strategy=strategy)
    return out


def write_selection(chosen: list[tuple[float, dict]], key: str, options: SelectOptions) -> int:
    import json

    from train.data.interchange import atomic_output, label_studio_task, write_json_array

    rows = [(_output_record(r, key, s, i + 1, options.strategy), r) for i, (s, r) in enumerate(chosen)]
    if options.fmt == "label-studio":
        extra = ("selection_rank", "selection_score", "selection_strategy")
        return write_json_array((label_studio_task({**r, **{k: o[k] for k in extra}}, extra) for o, r in rows),
                                options.output)
    with atomic_output(options.output) as handle:
        for out, record in rows:
            if options.fmt == "doccano":
                # doccano numbers its own examples "id"; ours travels as metadata and comes back on export.
                # No model output here: doccano would show it beside the text and anchor the annotator.
                out = {"text": out["text"], "paragraph_id": out["id"],
                       **{k: v for k, v in out.items() if k not in {"id", "text"}}}
            else:  # our JSONL: the model's view, under names that never pass for gold labels
                out.update(predicted=record[key], probabilities=record[f"{key}_probabilities"])
            handle.write(json.dumps(out, ensure_ascii=False) + "\n")
    return len(rows)


def run_select(paths: list[str], options: SelectOptions) -> tuple[Path, list[tuple[float, dict]]]:
    """Score the pool with the run, rank, cap per article, write. Deterministic for a seed."""
    from train.labels import LabelSet
    from train.rundir import read_json

    run_dir, inputs = _check(paths, options)
    labels = LabelSet.from_json(read_json(run_dir / "labels.json"))
    cut = run_dir / "thresholds.json"
    thresholds = read_json(cut)["thresholds"] if cut.is_file() else None
    with tempfile.TemporaryDirectory(prefix=".framing-select-") as work:
        records = _score_pool(run_dir, inputs, options, Path(work))
    key = labels.field
    ranked = rank(records, key, options.strategy, labels.is_multi_label, options.seed, thresholds)
    chosen = cap_per_article(ranked, options.n, options.per_article)
    write_selection(chosen, key, options)
    short = f" (only {len(chosen)} of {len(records)} paragraphs pass the --per-article cap)" \
        if len(chosen) < min(options.n, len(records)) else ""
    print(f"Selected {len(chosen)} of {len(records)} paragraphs by {options.strategy} -> {options.output}{short}")
    return options.output, chosen
