"""JUnit XML for CI systems: one test case per expectation, in one suite per scenario."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from apimgen.simulate.results import SimulationResult

__all__ = ["junit_xml"]


def junit_xml(runs: Sequence[SimulationResult]) -> str:
    total = sum(len(r.expectations) for r in runs)
    failed = sum(1 for r in runs for e in r.expectations if not e.passed)
    suites = ET.Element("testsuites", tests=str(total), failures=str(failed))
    for result in runs:
        failures = sum(1 for e in result.expectations if not e.passed)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"apimgen simulate: {result.name}",
            tests=str(len(result.expectations)),
            failures=str(failures),
            errors="0",
            skipped="0",
            time="0",
        )
        for expectation in result.expectations:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"simulate.{result.name}",
                name=expectation.name,
                time="0",
            )
            if not expectation.passed:
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=f"measured {expectation.measured:g}, expected {expectation.bound}",
                    type="ExpectationFailed",
                )
                failure.text = (
                    f"{expectation.name}: measured {expectation.measured:g} ({expectation.bound})"
                )
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
