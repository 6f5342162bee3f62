"""The fixtures' weight and input generators; the library keeps the verbatim copy."""
from libs.utils.reference_weights import fill_reference_weights, reference_clip

__all__ = ["fill_reference_weights", "reference_clip"]
