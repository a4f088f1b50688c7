"""`framing data agreement FIRST SECOND`: inter-annotator agreement on the doubly-annotated paragraphs.

Cohen's kappa for `frame` and `stance`, per-label F1 (one annotator as reference) for `frames`.
"""

from __future__ import annotations

from sklearn.metrics import cohen_kappa_score, f1_score

from train.data.corpus import read_rows
from train.errors import UserError
from train.labels import CODEBOOK_LABELS


def _by_id(path: str) -> dict[str, dict]:
    return {str(row.record["id"]): row.record for row in read_rows(path)}


def agreement(first_path: str, second_path: str) -> dict:
    first, second = _by_id(first_path), _by_id(second_path)
    shared = sorted(set(first) & set(second))
    missing = sorted(set(second) - set(first))
    if missing:
        raise UserError(f"{second_path}: {len(missing)} id(s) not in {first_path}, e.g. {missing[:3]}")
    if not shared:
        raise UserError(f"{first_path} and {second_path} share no paragraph ids")
    result: dict = {"paragraphs": len(shared), "articles": len({first[i].get("article_id") for i in shared})}
    for field in ("frame", "stance"):
        a, b = [first[i][field] for i in shared], [second[i][field] for i in shared]
        result[field] = {"kappa": float(cohen_kappa_score(a, b, labels=CODEBOOK_LABELS[field])),
                         "raw_agreement": sum(x == y for x, y in zip(a, b)) / len(shared)}
    names = CODEBOOK_LABELS["frames"]
    hot = lambda rows: [[int(n in r["frames"]) for n in names] for r in rows]
    a, b = hot([first[i] for i in shared]), hot([second[i] for i in shared])
    per_label = f1_score(a, b, average=None, zero_division=0)
    result["frames"] = {"per_label_f1": {n: float(f) for n, f in zip(names, per_label)},
                        "macro_f1": float(per_label.mean()),
                        "exact_match": sum(x == y for x, y in zip(a, b)) / len(shared)}
    return result


def format_agreement(result: dict) -> str:
    lines = [f"doubly-annotated paragraphs: {result['paragraphs']} from {result['articles']} articles"]
    for field in ("frame", "stance"):
        r = result[field]
        lines.append(f"{field:<7} Cohen's kappa {r['kappa']:.3f}   raw agreement {100 * r['raw_agreement']:.1f}%")
    f = result["frames"]
    lines.append("frames  per-label F1: " + ", ".join(f"{n} {v:.3f}" for n, v in f["per_label_f1"].items())
                 + f"   macro {f['macro_f1']:.3f}   exact set match {100 * f['exact_match']:.1f}%")
    return "\n".join(lines)
