"""Paragraphs/s of `framing predict` against `transformers.pipeline(batch_size=32)`, measured in one run.

    python bench/predict_throughput.py RUN_DIR [--paragraphs 2000] [--scale 200000]

The same N paragraphs (the shipped corpus cycled to N, so lengths are realistic) go through each arm in its own
subprocess, so each arm's peak RSS is its own: the pipeline baseline; our PyTorch path; ONNX fp32; ONNX int8
(`framing export RUN_DIR --onnx --int8` first). It prints paragraphs/s, the ratio to the baseline, label
agreement with our PyTorch path, peak RSS, and test macro-F1 per backend on the run's test split.
Each arm is timed from the run directory to the labels, model loading included; library imports (the
model's own transformers module too) happen before the timer in every arm.
With --scale M it also runs one path (--scale-arm; our fastest by default) on M paragraphs to show
that peak RSS stays flat.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def corpus_texts(n: int) -> list[str]:
    rows = [json.loads(line)["text"] for line in (ROOT / "data" / "paragraphs.jsonl").open(encoding="utf-8")]
    return [rows[i % len(rows)] for i in range(n)]


def write_input(texts: list[str], path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i, text in enumerate(texts):
            handle.write(json.dumps({"id": f"a{i // 6}", "text": text}) + "\n")


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM of its address space. ru_maxrss would not do: Linux folds the parent's
    peak into the child's at exec, and by the --scale run this parent holds three loaded models."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("peak RSS needs Linux /proc/self/status")


def import_model_code(run_dir: str) -> None:
    """Import the model's transformers module (modeling_bert for MiniLM) before any timer starts.

    transformers imports it lazily on the first from_pretrained, which costs about 2.5 s here, the same in every
    arm. The timers measure loading the run directory and predicting, not Python imports.
    """
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING

    MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[type(AutoConfig.from_pretrained(run_dir))]


def child(arm: str, run_dir: str, input_path: str, labels_out: str) -> None:
    """One arm, in a fresh process: time the work, read peak RSS right after it, then report labels."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    import_model_code(run_dir)
    if arm == "pipeline":
        from transformers import pipeline

        texts = [json.loads(line)["text"] for line in open(input_path, encoding="utf-8")]
        start = time.perf_counter()  # both arms are timed from run directory to labels, model loading included
        classifier = pipeline("text-classification", model=run_dir)
        labels = [out["label"] for out in classifier(texts, batch_size=32)]
        seconds = time.perf_counter() - start
        peak_mb = peak_rss_mb()
        n = len(texts)
    else:
        from train.inference.predict import PredictOptions, run_predict
        from train.inference.scoring import TorchScorer  # noqa: F401  imports stay outside the timer, as for the pipeline

        out = Path(labels_out).with_suffix(".records.jsonl")
        options = PredictOptions(output=out, backend=arm, id_field="id", progress=False, overwrite=True)
        start = time.perf_counter()
        run_predict([run_dir, input_path], options)  # streams: the input is never held in memory here
        seconds = time.perf_counter() - start
        peak_mb = peak_rss_mb()
        field = json.loads((Path(run_dir) / "labels.json").read_text())["field"]
        labels = [json.loads(line)[field] for line in out.open(encoding="utf-8")]
        n = len(labels)
    Path(labels_out).write_text(json.dumps(labels))
    print(json.dumps({"arm": arm, "n": n, "seconds": seconds, "peak_rss_mb": peak_mb}))


def run_arm(arm: str, run_dir: str, input_path: Path, work: Path) -> dict:
    labels_out = work / f"{arm}.labels.json"
    proc = subprocess.run([sys.executable, __file__, "--child", arm, run_dir, str(input_path), str(labels_out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"arm {arm} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["labels"] = json.loads(labels_out.read_text())
    return result


def test_macro_f1(run_dir: str, backend: str, work: Path) -> float | None:
    from sklearn.metrics import f1_score

    from train.inference.predict import PredictOptions, run_predict

    gold_path = Path(run_dir) / "test_predictions.jsonl"
    if not gold_path.is_file():
        return None
    rows = [json.loads(line) for line in gold_path.open(encoding="utf-8")]
    source = work / "test.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for r in rows:
            handle.write(json.dumps({"id": r["article_id"], "text": r["text"]}) + "\n")
    out = work / f"test-{backend}.jsonl"
    run_predict([run_dir, str(source)], PredictOptions(output=out, backend=backend, id_field="id",
                                                       progress=False, overwrite=True))
    field = json.loads((Path(run_dir) / "labels.json").read_text())["field"]
    predicted = [json.loads(line)[field] for line in out.open(encoding="utf-8")]
    return float(f1_score([r["gold"] for r in rows], predicted, average="macro"))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--paragraphs", type=int, default=2000)
    parser.add_argument("--scale", type=int, default=0, help="also run one path on this many paragraphs")
    parser.add_argument("--scale-arm", choices=["torch", "onnx", "onnx-int8"],
                        help="the path for --scale (default: onnx-int8 when exported, else torch)")
    args = parser.parse_args()
    onnx_ready = (Path(args.run_dir) / "onnx" / "model.int8.onnx").is_file()
    arms = ["pipeline", "torch"] + (["onnx", "onnx-int8"] if onnx_ready else [])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "input.jsonl"
        write_input(corpus_texts(args.paragraphs), source)
        results = {arm: run_arm(arm, args.run_dir, source, work) for arm in arms}
        base, ours = results["pipeline"], results["torch"]
        print(f"\n{args.paragraphs} paragraphs from the shipped corpus, model {args.run_dir}, {os.cpu_count()} CPU threads")
        print(f"{'arm':<12}{'seconds':>9}{'para/s':>9}{'x baseline':>12}{'labels = torch':>16}"
              f"{'peak RSS MB':>13}{'test macro-F1':>15}")
        for arm, r in results.items():
            agree = sum(a == b for a, b in zip(r["labels"], ours["labels"])) / len(ours["labels"])
            f1 = test_macro_f1(args.run_dir, arm, work) if arm != "pipeline" else None
            print(f"{arm:<12}{r['seconds']:>9.1f}{r['n'] / r['seconds']:>9.1f}"
                  f"{base['seconds'] / r['seconds']:>11.2f}x{100 * agree:>15.2f}%{r['peak_rss_mb']:>13.0f}"
                  + (f"{f1:>15.4f}" if f1 is not None else f"{'-':>15}"))
        if args.scale:
            arm = args.scale_arm or ("onnx-int8" if onnx_ready else "torch")
            if arm not in results:
                raise SystemExit(f"--scale-arm {arm}: export the run first (framing export RUN_DIR --onnx --int8)")
            big = work / "big.jsonl"
            write_input(corpus_texts(args.scale), big)
            small = results[arm]
            large = run_arm(arm, args.run_dir, big, work)
            print(f"\nstreaming memory, {arm}: peak RSS {small['peak_rss_mb']:.0f} MB on {small['n']} paragraphs, "
                  f"{large['peak_rss_mb']:.0f} MB on {large['n']} paragraphs "
                  f"({100 * (large['peak_rss_mb'] / small['peak_rss_mb'] - 1):+.1f}%); "
                  f"{large['n'] / large['seconds']:.1f} para/s")


if __name__ == "__main__":
    main()
