"""Files: atomic writes, output folders, checkpoints and reports."""

from .atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, prepare_output_dir, publish_output_dir

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "prepare_output_dir",
    "publish_output_dir",
]
