"""The networks: RCRNet (spatial), ImageModel, VideoModel (RCRNet+NER) and FGPLG."""
from .models import ImageModel, VideoModel, freeze_batchnorm
from .pseudo_label_generator import FGPLG
from .rcrnet import RCRNet

__all__ = ["RCRNet", "ImageModel", "VideoModel", "FGPLG", "freeze_batchnorm"]
