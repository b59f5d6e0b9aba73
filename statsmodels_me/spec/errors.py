"""The package's error and warning types."""


class SpecificationError(ValueError):
    """A model specification (Stata command, formula or option) that cannot be understood.

    The message quotes the offending text and says what was expected.
    """


class UnknownKeywordError(SpecificationError, TypeError):
    """A keyword argument that is not an option of the command (a ``TypeError``, as Python
    raises for an unexpected keyword, and a :class:`SpecificationError`)."""


class DataError(ValueError):
    """The data do not support the specification (missing variable, string response, ...)."""


class ConvergenceWarning(UserWarning):
    """The optimizer stopped at a boundary, in a non-concave region, or did not converge."""


class BoundaryWarning(ConvergenceWarning):
    """A variance component was estimated at (or numerically near) zero."""
