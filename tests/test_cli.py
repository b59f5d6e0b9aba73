"""Command line (python -m statsmodels_me): data resolution, dispatch, errors, end to end.

The end-to-end check compares with Stata's [ME] me entry, example 1 (bundled in
statsmodels_me/datasets/seed_examples.json:
``mixed weight week || id:`` gives week 6.209896, se .0390124 and LR chibar2(01) = 472.65).
"""
import subprocess
import sys

import pandas as pd
import pytest

from statsmodels_me import cli
from statsmodels_me.formula import api
from statsmodels_me.spec.errors import DataError, SpecificationError


class _FakeResults:
    def __init__(self, text, nrows, disp):
        self.text, self.nrows, self.disp = text, nrows, disp

    def summary(self):
        return f"FAKE SUMMARY {self.text} rows={self.nrows} disp={self.disp}"


class _FakeModel:
    def __init__(self, text, data):
        self.text, self.data = text, data

    def fit(self, disp=False):
        return _FakeResults(self.text, len(self.data), disp)


@pytest.fixture
def fake_mixed(monkeypatch):
    monkeypatch.setattr(api, "mixed", lambda text, data: _FakeModel(text, data))


def test_dispatch_to_formula_api(fake_mixed, capsys):
    assert cli.main(["mixed weight week || id:", "--data", "pig"]) == 0
    out = capsys.readouterr().out
    assert "FAKE SUMMARY mixed weight week || id: rows=432 disp=False" in out


def test_unquoted_words_are_joined_and_log_sets_disp(fake_mixed, capsys):
    assert cli.main(["mixed", "weight", "week", "||", "id:", "--data", "pig", "--log"]) == 0
    assert "mixed weight week || id: rows=432 disp=True" in capsys.readouterr().out


def test_csv_path(fake_mixed, tmp_path, capsys):
    path = tmp_path / "small.csv"
    pd.DataFrame({"y": [1.0, 2.0, 3.0], "g": [1, 1, 2]}).to_csv(path, index=False)
    assert cli.main(["mixed y || g:", "--data", str(path)]) == 0
    assert "rows=3" in capsys.readouterr().out


def test_design_notes_printed_first(monkeypatch, capsys):
    class _Design:
        notes = ["note: week2 omitted because of collinearity."]

    class _Model(_FakeModel):
        def fit(self, disp=False):
            res = super().fit(disp)
            res.model = type("M", (), {"design": _Design()})()
            return res

    monkeypatch.setattr(api, "mixed", lambda text, data: _Model(text, data))
    assert cli.main(["mixed weight week || id:", "--data", "pig"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "note: week2 omitted because of collinearity."
    assert out[2].startswith("FAKE SUMMARY")


def test_cmd_option_for_formulas(fake_mixed, capsys):
    assert cli.main(["weight ~ week + (1 | id)", "--cmd", "mixed", "--data", "pig"]) == 0
    assert "FAKE SUMMARY weight ~ week" in capsys.readouterr().out


@pytest.mark.parametrize("argv, fragment", [
    (["frobnicate y x || id:", "--data", "pig"], "'frobnicate'"),
    (["mixed weight week || id:", "--data", "no_such_data"], "'no_such_data'"),
])
def test_user_errors_exit_2_with_one_line(argv, fragment, capsys):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0]
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("exc", [SpecificationError("bad option 'foo()'"),
                                 DataError("variable 'wek' not found"),
                                 NotImplementedError("no melogit yet")])
def test_package_errors_from_the_model(monkeypatch, exc, capsys):
    def boom(text, data):
        raise exc
    monkeypatch.setattr(api, "mixed", boom)
    assert cli.main(["mixed weight week || id:", "--data", "pig"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {exc}"


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "python -m statsmodels_me 'mixed weight week || id:' --data pig" in out
    assert "--log" in out and "--data" in out


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "statsmodels_me", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "examples:" in proc.stdout


def test_end_to_end_mixed(capsys):
    # the real Mixed estimator; numbers from seed example 1
    assert cli.main(["mixed weight week || id:", "--data", "pig"]) == 0
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert "Mixed-effects ML regression Number of obs = 432" in lines
    assert any(line.startswith("week | 6.209896 .0390124 159.18 0.000") for line in lines)
    assert "LR test vs. linear model: chibar2(01) = 472.65 Prob >= chibar2 = 0.0000" in lines
