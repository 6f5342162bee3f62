"""``reproduce.py``: an experiment's stages, from the data to the table, in one resumable run folder.

- :mod:`.experiment`: experiment files (``config/experiments/*.yaml``), presets, ``--set``;
- :mod:`.stages`: the stages and the library function and parser behind each script;
- :mod:`.commands`: each stage's command lines from the experiment, the overrides and the
  outputs of the stages before it;
- :mod:`.datacheck`, :mod:`.estimates`, :mod:`.plan`, :mod:`.plan_text`: the plan (counts,
  problems, warnings, device, disk, time) and its text;
- :mod:`.state`: ``RUN/state.json`` and what a rerun does with each stage;
- :mod:`.launch`: running a stage in this process or under ``torchrun``; ``RUN/commands.sh``;
- :mod:`.table`: the final table through ``tables.py``'s code;
- :mod:`.runner`, :mod:`.cli`: the run and the command. See docs/reproduce.md.
"""
from .cli import build_parser, run

__all__ = ["build_parser", "run"]
