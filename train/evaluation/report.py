"""report.md for an evaluation directory: every figure of metrics.json, readable, with the plots embedded."""

from __future__ import annotations


def _ci(entry: dict) -> str:
    return f"{entry['point']:.3f} [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"


def _names(value) -> str:
    return ", ".join(value) if isinstance(value, list) else value


def _cell(text: str, limit: int = 220) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def headline_table(results: dict) -> list[str]:
    systems = [k for k in ("model", "tfidf_logreg", "majority") if k in results]
    names = {"model": "fine-tuned model", "tfidf_logreg": "TF-IDF + logistic regression", "majority": "majority class"}
    multi = "micro_f1" in results["model"]["bootstrap"]
    if multi:
        lines = ["| system | macro-F1 [95% CI] | micro-F1 [95% CI] | exact match [95% CI] | Hamming loss [95% CI] "
                 "| model's macro-F1 gain [95% CI] |", "|---|---|---|---|---|---|"]
    else:
        lines = ["| system | accuracy [95% CI] | macro-F1 [95% CI] | weighted-F1 | model's macro-F1 gain [95% CI] |",
                 "|---|---|---|---|---|"]
    for key in systems:
        r, boot = results[key], results[key]["bootstrap"]
        gain = r.get("gain_macro_f1")
        gain_text = f"{gain['point']:+.3f} [{gain['ci'][0]:+.3f}, {gain['ci'][1]:+.3f}]" if gain else "-"
        if multi:
            lines.append(f"| {names[key]} | {_ci(boot['macro_f1'])} | {_ci(boot['micro_f1'])} | "
                         f"{_ci(boot['exact_match'])} | {_ci(boot['hamming_loss'])} | {gain_text} |")
        else:
            lines.append(f"| {names[key]} | {_ci(boot['accuracy'])} | {_ci(boot['macro_f1'])} | "
                         f"{r['weighted_f1']:.3f} | {gain_text} |")
    return lines


def per_class_table(results: dict) -> list[str]:
    has_base = "tfidf_logreg" in results
    head = "| label | precision | recall | F1 [95% CI] | support |" + (" TF-IDF F1 | majority F1 |" if has_base else "")
    lines = [head, "|---|---|---|---|---|" + ("---|---|" if has_base else "")]
    model = results["model"]
    for i, name in enumerate(results["labels"]):
        c = model["per_class"][name]
        row = (f"| `{name}` | {c['precision']:.3f} | {c['recall']:.3f} | {_ci(model['bootstrap']['per_class_f1'][i])} "
               f"| {c['support']} |")
        if has_base:
            row += (f" {results['tfidf_logreg']['per_class'][name]['f1']:.3f} |"
                    f" {results['majority']['per_class'][name]['f1']:.3f} |")
        lines.append(row)
    if "no_label" in model:
        c = model["no_label"]
        lines.append(f"| (`{c['name']}`: no label) | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | "
                     f"{c['support']} |" + (" |  |" if has_base else ""))
    return lines


def _confusion(results: dict) -> list[str]:
    if "confusion_matrix" not in results["model"]:
        return []
    names = results["labels"]
    matrix = results["model"]["confusion_matrix"]["matrix"]
    lines = ["| gold \\ predicted | " + " | ".join(f"`{n}`" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    lines += [f"| `{n}` | " + " | ".join(str(v) for v in row) + " |" for n, row in zip(names, matrix)]
    return lines


def _calibration(cal: dict) -> list[str]:
    if "thresholds" in cal:
        source = "tuned on the validation split at training time" if cal["thresholds_source"] else "the default 0.5"
        return ["## Decision thresholds", "", f"A label is predicted when its sigmoid probability reaches its threshold "
                f"({source}); a paragraph with no label predicted is reported as `none`.", "",
                "| label | threshold |", "|---|---|", *[f"| `{n}` | {t:.2f} |" for n, t in cal["thresholds"].items()], ""]
    return [
        "## Calibration",
        "",
        f"Temperature {cal['temperature']:.3f} "
        + ("(fitted on the validation split at training time). " if cal["temperature_source"]
           else "(no temperature.json in the run: probabilities unscaled). ")
        + f"Expected calibration error over {cal['bins']} confidence bins: **{cal['ece_before']:.4f}** raw, "
        f"**{cal['ece_after']:.4f}** after temperature scaling.",
        "",
        "![Reliability diagram](reliability.png)",
        "",
    ]


def group_table(summary: dict, label_format: str) -> list[str]:
    """Header and one row per held-out group of a leave-one-group-out summary; a dash marks a label the group
    lacks (its F1 is undefined, not 0)."""
    names = summary["labels"]
    lines = [f"| held-out {summary['group_field']} | n | macro-F1 | TF-IDF |"
             + "".join(" " + label_format.format(n) + " |" for n in names),
             "|---|---|---|---|" + "---|" * len(names)]
    for g in summary["per_group"]:
        lines.append(f"| {g['group']} | {g['n']} | {g['macro_f1']:.3f} | {g['tfidf_macro_f1']:.3f} |"
                     + "".join(f" {g['per_class_f1'][n]:.3f} |" if n in g["labels_present"] else " - |"
                               for n in names))
    return lines


def _beside(results: dict) -> list[str]:
    """The written test split's headline next to the real one, so neither is read alone."""
    if "beside" not in results:
        return []
    b = results["beside"]
    m = b["macro_f1"]
    return ["", f"Beside it, the {b['name']} (text written for the project, {b['n']} paragraphs from {b['articles']} "
            f"articles): macro-F1 {m['point']:.4f} (95% CI {m['ci'][0]:.4f}-{m['ci'][1]:.4f}); details in "
            f"[{b['report']}]({b['report']})."]


def render_report(results: dict, ecfg) -> str:
    boot = results["model"]["bootstrap"]
    confusion = _confusion(results)
    out = [
        f"# Evaluation of `{results['run_dir']}`",
        "",
        f"Data: {results['source']}: **{results['n']} paragraphs** from {results['articles']} articles.",
        f"Intervals are 95% bootstrap intervals from {boot['n_boot']} replicates that resample whole articles "
        "(paragraphs of one article are not independent). Gains are paired: the model and the baseline are "
        "scored on the same resampled articles.",
        *_beside(results),
        "",
        "## Headline figures",
        "",
        *headline_table(results),
        "",
        "## Per class (fine-tuned model)",
        "",
        *per_class_table(results),
        "",
        *(["## Confusion matrix", "", *confusion, "",
            "![Confusion matrix: counts and row-normalised](confusion_matrix.png)", ""] if confusion else []),
        *_calibration(results["calibration"]),
    ]
    if results["errors"]:
        out += ["## Most confident errors", "", "| probability | gold | predicted | text |", "|---|---|---|---|"]
        out += [f"| {e['probability']:.3f} | `{_names(e['gold'])}` | `{_names(e['predicted'])}` | {_cell(e['text'])} |"
                for e in results["errors"]]
        out.append("")
    for field, rows in results.get("by_field", {}).items():
        accuracy = "exact match" if "micro_f1" in boot else "accuracy"
        out += [f"## Macro-F1 by `{field}`", "", f"| value | paragraphs | macro-F1 | {accuracy} |", "|---|---|---|---|"]
        out += [f"| {r['value']} | {r['n']} | {r['macro_f1']:.3f} | {r['accuracy']:.3f} |"
                for r in sorted(rows, key=lambda r: -r["n"])]
        out += ["", "Small groups give unstable figures; read them as pointers, not results.", ""]
    return "\n".join(out)
