"""``python -m statsmodels_me 'mixed weight week || id:' --data pig``.

See :mod:`statsmodels_me.cli`.
"""
from statsmodels_me.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
