"""The lowercase constructors of statsmodels_me.formula.api."""
import pytest

import statsmodels_me.formula.api as smf
from statsmodels_me.datasets import load
from statsmodels_me.models.registry import KNOWN_COMMANDS

NOT_YET = ["mestreg"]


def test_every_command_has_a_constructor():
    assert sorted(smf.__all__) == sorted(KNOWN_COMMANDS)
    for cmd in KNOWN_COMMANDS:
        assert callable(getattr(smf, cmd))
        assert getattr(smf, cmd).__name__ == cmd


@pytest.mark.parametrize("cmd", NOT_YET)
def test_unimplemented_commands_say_so(cmd):
    with pytest.raises(NotImplementedError, match=cmd):
        getattr(smf, cmd)("y x || id:", data=load("pig"))


def test_both_syntaxes_build_the_same_model():
    pig = load("pig")
    a = smf.mixed("weight week || id: week, cov(un)", data=pig)
    b = smf.mixed("weight ~ week + (1 + week | id)", data=pig)
    assert a.param_names == b.param_names
    assert a.design.exog.tolist() == b.design.exog.tolist()


def test_command_word_must_match_constructor():
    from statsmodels_me.spec.errors import SpecificationError
    with pytest.raises(SpecificationError, match="melogit"):
        smf.mixed("melogit weight week || id:", data=load("pig"))
