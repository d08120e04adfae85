"""Synthetic labelled Slack workspaces: seeded, offline, fast; written as a Slack export folder."""

from offline.synth.export import LABELS_SCHEMA, labels, write_export
from offline.synth.generate import DEFAULT_NOW, SIZES, generate
from offline.synth.utterances import training_utterances

__all__ = ["DEFAULT_NOW", "LABELS_SCHEMA", "SIZES", "generate", "labels", "training_utterances", "write_export"]
