"""The semi-supervised pipeline, one module per stage; the top-level scripts are thin CLIs over it.

``pretraining`` (image model), ``fgplg_training``, ``pseudo_labels``, ``video_training``,
``inference``; ``common`` holds the pieces they share (flags, loaders, model loading), ``fit`` the
epoch loop of the three training stages, ``evaluation`` the evaluation and tables.
"""
