"""statsmodels_me: Stata's multilevel mixed-effects suite as a statsmodels extension."""
__version__ = "0.1.0.dev0"
