"""Exchange networks with other tools: NIR graphs with an astrocyte sidecar."""

from .nir import export_nir, import_nir, nir_sidecar, sidecar_path

__all__ = ["export_nir", "import_nir", "nir_sidecar", "sidecar_path"]
