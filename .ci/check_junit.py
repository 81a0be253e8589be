"""Fail CI when a pytest run executed nothing: zero tests, or every test skipped."""

import sys
import xml.etree.ElementTree as ET

report, label = sys.argv[1], sys.argv[2]
root = ET.parse(report).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
total = sum(int(s.get("tests", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
ran = total - skipped
print(f"CI {label}: {total} tests, {ran} ran, {skipped} skipped, {failed} failed")
if ran <= 0 or failed:
    sys.exit(f"CI {label}: no test actually ran or some failed")
