"""ModelSpec + DataFrame -> design arrays (:class:`Design`)."""
from statsmodels_me.design.build import build_design
from statsmodels_me.design.design import Design, Level, REBlock

__all__ = ["Design", "Level", "REBlock", "build_design"]
