"""JUnit XML: each budget (and each rule the policy judges) is a test case.

For CI services that show test reports (GitLab's ``artifacts:reports:junit``,
Jenkins, Azure): a broken ``fail`` budget is a ``<failure>``; a broken
``warn`` budget passes with the warning in ``<system-out>``. No budget set:
one passing case says so, so the report is never empty. Text from the image
is escaped by the XML writer; characters XML 1.0 cannot hold are replaced.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from layerscope.analysis import Analysis, BudgetResult
from layerscope.names import printable
from layerscope.report.summary import relation, verdict

SUITE = "layerscope"
# XML 1.0 has no place for most control characters, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", printable(text))


def _case(suite: ET.Element, image: str, b: BudgetResult) -> None:
    kind = "rule" if b.name.startswith("rule:") else "budget"
    case = ET.SubElement(
        suite, "testcase", name=_clean(b.name), classname=_clean(f"{SUITE}.{kind}.{image}")
    )
    case.set("time", "0")
    text = _clean(f"{b.name}: {relation(b)} ({b.message})")
    if verdict(b) == "FAIL":
        failure = ET.SubElement(case, "failure", message=text, type="budget")
        failure.text = text
    elif verdict(b) == "warn":
        ET.SubElement(case, "system-out").text = f"warning: {text}"


def render(result: Analysis) -> str:
    """The JUnit XML document."""
    image = result.image.reference or result.image.id
    budgets = result.budgets or (
        BudgetResult("budgets", 0, 0, True, message="none set (docs/ci.md)"),
    )
    failures = sum(1 for b in budgets if verdict(b) == "FAIL")
    suites = ET.Element("testsuites", name=SUITE, tests=str(len(budgets)))
    suites.set("failures", str(failures))
    suite = ET.SubElement(suites, "testsuite", name=_clean(f"{SUITE} {image}"))
    suite.set("tests", str(len(budgets)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    suite.set("time", "0")
    for b in budgets:
        _case(suite, _clean(image), b)
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
