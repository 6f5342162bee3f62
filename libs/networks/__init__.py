"""The networks: RCRNet (spatial), ImageModel, VideoModel (RCRNet+NER)."""
from .models import ImageModel, VideoModel, freeze_batchnorm
from .rcrnet import RCRNet

__all__ = ["RCRNet", "ImageModel", "VideoModel", "freeze_batchnorm"]
