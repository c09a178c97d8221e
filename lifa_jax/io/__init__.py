"""Files: atomic writes, output folders, checkpoints and reports."""

from .atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, prepare_output_dir, publish_output_dir
from .checkpoint import CheckpointError, load_checkpoint, load_training_state, save_checkpoint, save_training_state

__all__ = [
    "CheckpointError",
    "load_checkpoint",
    "load_training_state",
    "save_checkpoint",
    "save_training_state",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "prepare_output_dir",
    "publish_output_dir",
]
