"""Key-frame labelling of a user's own videos (``generate_pseudo_labels.py --input``) and the
``--holdout`` quality report.

``options`` (the flags and their per-mode defaults), ``source`` (frames of one video, read
forward), ``labellers`` (fgplg, warp, copy), ``engine`` (one video, gap by gap, in batches),
``outputs`` (layout and manifest), ``review`` (overlays, MP4), ``generation`` (the run),
``holdout`` and ``report`` (the quality report). The index rules are
:mod:`libs.datasets.keyframes`. Nothing is imported here, so that the published path's parser
stays light.
"""
