"""Model specifications: Stata command syntax and lme4-style formulas -> :class:`ModelSpec`.

>>> from statsmodels_me.spec import parse
>>> parse("mixed weight week || id:").random[0].path
('id',)
"""
from statsmodels_me.spec.errors import SpecificationError
from statsmodels_me.spec.model_spec import Factor, ModelSpec, REEquation, Term


def parse(text, command=None, **options) -> ModelSpec:
    """Parse a model in Stata syntax or as an lme4-style formula.

    Parameters
    ----------
    text : str
        Stata syntax (``"mixed weight week || id:"``, the command word optional) or, when it
        contains ``~``, an lme4-style formula (``"weight ~ week + (1 | id)"``).
    command : str, optional
        ``mixed``, ``meglm``, ``melogit``, ...; taken from the text's first word when present
        (a different ``command`` is an error); ``mixed`` when neither gives one.
    **options
        Command options as keywords: ``reml=True``, ``intmethod="laplace"``, ``intpoints=7``,
        ``family=``, ``link=``, ``binomial=``, ``or_=True``, ``covariance={"id": "unstructured"}``,
        ``matrices={"f": array}``, ``constraints={1: "_b[/var(_cons[id])] = 1"}``, ...

    Returns
    -------
    ModelSpec

    Raises
    ------
    SpecificationError
        For any text or option that cannot be understood; the message quotes it.
    """
    if not isinstance(text, str):
        raise SpecificationError(f"model text must be a string, got {type(text).__name__}")
    if "~" in text:
        from statsmodels_me.spec.lme4 import parse_formula

        return parse_formula(text, command=command, **options)
    from statsmodels_me.spec.stata import parse_stata

    return parse_stata(text, command=command, **options)


__all__ = ["parse", "SpecificationError", "ModelSpec", "REEquation", "Term", "Factor"]
