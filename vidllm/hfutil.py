"""Helpers for code that loads Hugging Face models (transformers, sentence-transformers)."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def quiet_loading():
    """Hide transformers' "Loading weights" progress bar while a model loads: on a command's
    stderr it is noise (vidllm shows its own progress), and it is written without a newline
    until done, which confuses programs that read stderr line by line."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()
