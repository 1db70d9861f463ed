"""Fail unless every workspace package has at least N% branch coverage.

Reads the ``.coverage`` data written by the README's test command.
"""

import sys
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parents[1]


def main(threshold: float) -> int:
    """Print each package's coverage; return 1 if one is below ``threshold``."""
    data = coverage.Coverage(data_file=str(ROOT / ".coverage"))
    data.load()
    failed = False
    for package in sorted((ROOT / "packages").iterdir()):
        source = package / "src"
        if not source.is_dir():
            continue
        files = [str(path) for path in source.rglob("*.py")]
        try:
            percent = data.report(include=files, file=_Null(), skip_empty=True)
        except coverage.exceptions.NoDataError:
            percent = 0.0
        verdict = "ok" if percent >= threshold else "BELOW"
        print(f"{package.name:32} {percent:6.2f}%  {verdict}")
        failed = failed or percent < threshold
    return 1 if failed else 0


class _Null:
    def write(self, _: str) -> int:
        return 0


if __name__ == "__main__":
    raise SystemExit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 95.0))
