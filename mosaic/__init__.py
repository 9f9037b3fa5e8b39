"""mosaic: multi-objective, slice-aware, iterative curation of SFT data mixtures."""

__version__ = "0.1.0"
