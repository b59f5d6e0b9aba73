"""Location of the small crossed data set shared with tests/models (see its README there)."""
from pathlib import Path

CROSSED = Path(__file__).resolve().parents[1] / "models" / "data" / "crossed_small.csv"
