"""Which model class fits which Stata command; commands not yet built raise NotImplementedError."""
from __future__ import annotations

import importlib

#: command -> "module:Class"
_COMMANDS = {
    "mixed": "statsmodels_me.models.mixed:Mixed",
    "meglm": "statsmodels_me.models.meglm:MEGLM",
    "melogit": "statsmodels_me.models.meglm:MELogit",
    "meprobit": "statsmodels_me.models.meglm:MEProbit",
    "mecloglog": "statsmodels_me.models.meglm:MECloglog",
    "mepoisson": "statsmodels_me.models.meglm:MEPoisson",
    "menbreg": "statsmodels_me.models.meglm:MENBReg",
    "meologit": "statsmodels_me.models.meglm:MEOLogit",
    "meoprobit": "statsmodels_me.models.meglm:MEOProbit",
    "metobit": "statsmodels_me.models.censored:METobit",
    "meintreg": "statsmodels_me.models.censored:MEIntreg",
    "menl": "statsmodels_me.models.menl:MENL",
}

KNOWN_COMMANDS = ("mixed", "meglm", "melogit", "meprobit", "mecloglog", "meologit", "meoprobit",
                  "mepoisson", "menbreg", "metobit", "meintreg", "mestreg", "menl")


def register(command, target):
    """Register ``"module:Class"`` as the model for ``command``."""
    _COMMANDS[command] = target


def model_class(command):
    """The model class for a Stata command name.

    Raises
    ------
    NotImplementedError
        When the command is part of the suite but not implemented yet.
    ValueError
        When the command is not one of the suite's.
    """
    if command not in KNOWN_COMMANDS:
        raise ValueError(f"unknown command '{command}'; expected one of "
                         f"{', '.join(KNOWN_COMMANDS)}")
    target = _COMMANDS.get(command)
    if target is None:
        raise NotImplementedError(f"statsmodels_me does not implement '{command}' yet")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)
