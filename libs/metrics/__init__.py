"""The field's measures, kept apart from data handling (as davis2017-evaluation keeps its
``metrics.py``): pure functions of arrays, no file I/O, no knowledge of datasets.

- :mod:`.saliency`: MAE, F-measure, S-measure, E-measure, weighted F (pysodmetrics' maths),
  DAVIS J and boundary F per frame, per-video and overall averaging;
- :mod:`.boundary`: DAVIS boundary F-measure;
- :mod:`.vos`: davis2017-evaluation's J / F mean, recall and decay;
- :mod:`.davsod`: the DAVSOD toolbox's per-sequence protocol;
- :mod:`.matlab_imresize`: MATLAB's bicubic ``imresize``, as that toolbox resizes maps;
- :mod:`.model_selection`: the S-measure and MAE the trainers pick their best epoch by.

A leaf layer: it imports nothing of the project but :mod:`libs.utils`.
"""
