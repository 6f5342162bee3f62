"""The scripts' error wrapper: the user's mistakes are one line, our bugs keep their traceback."""
import argparse

import pytest

from libs.utils.cli import run_main
from libs.utils.errors import UsageError, UserError


def test_user_errors_are_one_line_with_status_2(capsys):
    def fail(args):
        raise UsageError("--x: must be positive\n(detail on a second line)")

    assert run_main("s.py", fail, argparse.Namespace()) == 2
    assert capsys.readouterr().err == "s.py: error: (detail on a second line)\n"


def test_os_error_about_a_path_the_user_named_is_one_line(tmp_path, capsys):
    target = tmp_path / "out"

    def fail(args):
        raise PermissionError(13, "Permission denied", str(target / "a.png"))

    assert run_main("s.py", fail, argparse.Namespace(results_folder=str(target))) == 2
    assert str(target / "a.png") in capsys.readouterr().err


def test_os_error_about_another_path_is_a_bug_with_its_traceback(tmp_path):
    def fail(args):
        raise FileNotFoundError(2, "No such file", "/somewhere/internal.cache")

    with pytest.raises(FileNotFoundError):
        run_main("s.py", fail, argparse.Namespace(results_folder=str(tmp_path)))


def test_other_exceptions_are_not_swallowed():
    def fail(args):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_main("s.py", fail, argparse.Namespace())
    assert issubclass(UsageError, UserError) and issubclass(UsageError, ValueError)
