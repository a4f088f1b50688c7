"""Data: labelled corpora and new articles in, validated rows out.

Reads the written and real corpora (JSONL/CSV), checks them against the schema and the codebook, splits them
grouped by article, measures annotator agreement, converts Label Studio and doccano files, rebuilds the real
paragraphs from their source repositories, and cuts new articles into paragraphs (one splitter for training
and inference). Knows nothing about models.
"""
