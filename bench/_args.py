"""Command-line options the bench scripts share."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """``--data-dir``: the shared data (SmSA, NusaX, topics…); default ``$SUARA_DATA_DIR`` or ../shared/data."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("SUARA_DATA_DIR", ROOT.parent / "shared" / "data")),
        help="default: $SUARA_DATA_DIR, else ../shared/data beside the repository",
    )
