"""framing: train, evaluate and ship framing and stance classifiers for news paragraphs about armed conflicts."""

__version__ = "0.1.0"
