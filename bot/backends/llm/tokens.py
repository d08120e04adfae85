"""Counting tokens to keep prompts inside the model's context budget.

OpenAI models are counted exactly with tiktoken. Other models (Llama, Mistral, Qwen behind Ollama or
vLLM) have tokenizers tiktoken does not know, and tiktoken's encodings are downloaded on first use,
which fails on an offline host; both cases use a conservative character estimate instead, and the
rationale says which one was used.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

import tiktoken

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.5  # English chat text runs ~4 characters a token; 3.5 errs towards smaller chunks


class TokenCounter:
    def __init__(self, encode: Callable[[str], list[int]] | None, method: str) -> None:
        self._encode = encode
        self.method = method

    @property
    def exact(self) -> bool:
        return self._encode is not None

    def count(self, text: str) -> int:
        if self._encode is not None:
            return len(self._encode(text))
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    @classmethod
    def estimate(cls, why: str = "") -> TokenCounter:
        return cls(None, f"character estimate ({why})" if why else "character estimate")

    @classmethod
    def for_model(cls, model: str, *, load_timeout_s: float = 3.0) -> TokenCounter:
        """tiktoken for models it knows, loaded with a time limit (the first load may download)."""
        try:
            encoding_name = tiktoken.encoding_name_for_model(model)
        except KeyError:
            return cls.estimate(f"tiktoken does not know {model}")
        loaded: list[tiktoken.Encoding] = []
        failed: list[BaseException] = []

        def load() -> None:
            try:
                loaded.append(tiktoken.get_encoding(encoding_name))
            except Exception as exc:  # network, cache or file errors all mean: estimate instead
                failed.append(exc)

        worker = threading.Thread(target=load, name="tiktoken-load", daemon=True)
        worker.start()
        worker.join(load_timeout_s)
        if not loaded:
            reason = f"{type(failed[0]).__name__}" if failed else f"not loaded within {load_timeout_s:.0f} s"
            log.warning("tiktoken encoding %s unavailable (%s); estimating tokens from characters",
                        encoding_name, reason)
            return cls.estimate(f"tiktoken {encoding_name} unavailable: {reason}")
        encoding = loaded[0]
        return cls(lambda text: encoding.encode(text, disallowed_special=()), f"tiktoken {encoding_name}")
