"""Tutorial-compatible entry point: `pip install -r requirements.txt && python app.py`.

Serves on 0.0.0.0:8000 unless TODO_HOST / TODO_PORT say otherwise. Runs from a checkout
without installing the package, so it puts ./src on the import path itself.
"""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    os.environ.setdefault("TODO_HOST", "0.0.0.0")
    from todo_api.cli import main

    raise SystemExit(main(["serve", *sys.argv[1:]]))
