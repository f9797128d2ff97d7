"""Run every fault test of the suite and print the fault table.

    python scripts/fault_table.py              # all rows, a Markdown table on stdout
    python scripts/fault_table.py -k tfds      # some rows (any pytest arguments)

The rows are the tests marked `@pytest.mark.fault(fault, expected)` (tests/test_faults.py
and the older reliability tests); each runs as in the suite, and its row shows the fault,
what is expected, what was observed (what the test recorded, or the failure) and PASS or
FAIL. The exit status is 0 when every row passes.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FaultTable:
    """A pytest plugin that collects one row per fault test."""

    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []
        self._marks: dict[str, Any] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            mark = item.get_closest_marker("fault")
            if mark:
                self._marks[item.nodeid] = (item, mark)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in self._marks:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            item, mark = self._marks[report.nodeid]
            fault, expected = mark.args
            variant = item.nodeid.partition("[")[2].rstrip("]")
            observed = dict(report.user_properties).get("observed", "as expected")
            if not report.passed:
                text = str(report.longrepr).strip().splitlines()
                observed = (text[-1] if text else report.outcome)[:100]
            self.rows.append({
                "fault": fault + (f" ({variant})" if variant else ""),
                "expected": expected,
                "observed": observed.replace("|", "\\|"),
                "result": "PASS" if report.passed else "FAIL",
            })


def main(args: list[str]) -> int:
    """Runs the fault tests with pytest `args`, prints the table; 0 when all pass."""
    table = FaultTable()
    os.chdir(REPO)
    status = pytest.main(["-q", "-m", "fault", "-p", "no:cacheprovider", *args],
                         plugins=[table])
    print("\n| fault | expected | observed | result |\n| --- | --- | --- | --- |")
    for row in table.rows:
        print(f"| {row['fault']} | {row['expected']} | {row['observed']} | {row['result']} |")
    failed = sum(row["result"] != "PASS" for row in table.rows)
    print(f"\n{len(table.rows)} rows, {failed} failed.")
    return 1 if failed or status not in (0, pytest.ExitCode.OK) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
