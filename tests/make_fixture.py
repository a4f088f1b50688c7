"""Cut tests/fixtures/paragraphs.jsonl from the shipped corpus: the first three articles of each writer block
(art-1xxx ... art-7xxx), every field kept. Rerun after the corpus changes.

    python tests/make_fixture.py
"""

import json
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

rows = [json.loads(line) for line in (ROOT / "data" / "paragraphs.jsonl").read_text(encoding="utf-8").splitlines()]
articles = defaultdict(list)  # writer block (art-1, art-2, ...) -> its article ids in file order
for row in rows:
    block = articles[row["article_id"][:5]]
    if row["article_id"] not in block:
        block.append(row["article_id"])
keep = {a for block in articles.values() for a in block[:3]}
out = [r for r in rows if r["article_id"] in keep]
(ROOT / "tests" / "fixtures" / "paragraphs.jsonl").write_text(
    "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8")
print(f"{len(out)} paragraphs from {len(keep)} articles")
