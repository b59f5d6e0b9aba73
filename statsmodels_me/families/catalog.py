"""The families by name, and :func:`get_family`."""
from __future__ import annotations

from statsmodels_me.families.base import Family
from statsmodels_me.families.binomial import Bernoulli, Binomial
from statsmodels_me.families.censored import CensoredNormal
from statsmodels_me.families.gamma import Gamma
from statsmodels_me.families.gaussian import Gaussian
from statsmodels_me.families.nbinomial import NegativeBinomialConstant, NegativeBinomialMean
from statsmodels_me.families.ordinal import Ordinal
from statsmodels_me.families.poisson import Poisson
from statsmodels_me.families.survival import SURVIVAL_FAMILIES
from statsmodels_me.spec.errors import SpecificationError

#: family classes by the name the engines and kernels know them by
FAMILY_CLASSES: dict[str, type[Family]] = {
    cls.name: cls for cls in (Gaussian, Bernoulli, Binomial, Poisson, NegativeBinomialMean,
                              NegativeBinomialConstant, Gamma, Ordinal, CensoredNormal,
                              *SURVIVAL_FAMILIES.values())}

_DISPERSIONS = {"mean": NegativeBinomialMean, "constant": NegativeBinomialConstant}


def get_family(name, link: str | None = None, **options) -> Family:
    """The family object of a name as Stata's ``family()`` option or the engines give it.

    Parameters
    ----------
    name : str or Family
        ``gaussian``, ``bernoulli``, ``binomial``, ``poisson``, ``nbinomial``, ``gamma``,
        ``ordinal``, or an engine name (``nbinomial_mean``, ``nbinomial_constant``).  A
        :class:`Family` is returned as it is when ``link`` is None or its own link.
    link : str, optional
        Link name; the family's default (Stata's) when None.
    **options
        ``dispersion`` ("mean", the default, or "constant") for ``nbinomial``; other
        options are refused.

    Returns
    -------
    Family

    Raises
    ------
    SpecificationError
        Unknown family, link, option or dispersion, each named in the message.
    """
    if isinstance(name, Family):
        if options:
            raise SpecificationError(f"family options {sorted(options)} are not accepted "
                                     "with a family object")
        return name if link is None or link == name.link else type(name)(link)
    dispersion = options.pop("dispersion", None)
    if options:
        raise SpecificationError(f"family '{name}': unknown option(s) "
                                 f"{', '.join(sorted(options))}")
    if name == "nbinomial":
        cls = _DISPERSIONS.get("mean" if dispersion is None else dispersion)
        if cls is None:
            raise SpecificationError(f"dispersion '{dispersion}' is not supported; expected "
                                     "'mean' or 'constant'")
    else:
        cls = FAMILY_CLASSES.get(name)
        if cls is None:
            raise SpecificationError(f"family '{name}' is not supported; expected one of "
                                     f"{sorted(set(FAMILY_CLASSES) | {'nbinomial'})}")
        if dispersion is not None and dispersion != getattr(cls, "dispersion", None):
            raise SpecificationError(f"dispersion '{dispersion}' is not available for family "
                                     f"'{name}'")
    return cls(link)
