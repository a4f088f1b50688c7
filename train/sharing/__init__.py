"""Sharing: a finished run directory in; its Hugging Face model card and a Hub upload out.

Reads only the run directory, never training code.
"""
