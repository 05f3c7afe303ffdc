#!/usr/bin/python3
"""docs/openapi.yaml against Redocly's `recommended` ruleset: passes only with zero errors, zero
warnings and nothing silenced by an ignore file (Redocly itself fails on errors only).

Redocly CLI comes from this folder's package.json (scripts/e2e-deps installs it; `make test` runs
that first). It runs offline: telemetry off (REDOCLY_TELEMETRY=off and `telemetry: off` in
redocly.yaml), no update check (REDOCLY_SUPPRESS_UPDATE_NOTICE), and the document has only local
$refs, so nothing is fetched.

Run: /usr/bin/python3 tests/docs/openapi_lint.py [path/to/openapi.yaml]
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
REDOCLY = os.path.join(HERE, "node_modules", ".bin", "redocly")
CONFIG = os.path.join(HERE, "redocly.yaml")


def main():
    document = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO_ROOT, "docs", "openapi.yaml")
    if not os.access(REDOCLY, os.X_OK):
        print(f"FAIL: {REDOCLY} is missing: run scripts/e2e-deps", file=sys.stderr)
        return 1
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
               REDOCLY_SUPPRESS_NOTIFICATIONS="true", NO_COLOR="1")

    def lint(fmt):
        return subprocess.run([REDOCLY, "lint", "--config", CONFIG, f"--format={fmt}",
                               "--max-problems=1000", "--lint-config=error", document],
                              cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=120)

    p = lint("json")
    try:
        totals = json.loads(p.stdout)["totals"]
    except (ValueError, KeyError, TypeError):
        print(f"FAIL: redocly lint exited {p.returncode} without a JSON report:\n{p.stdout}\n"
              f"{p.stderr}", file=sys.stderr)
        return 1
    counts = f"{totals['errors']} errors, {totals['warnings']} warnings, {totals['ignored']} ignored"
    if p.returncode == 0 and totals["errors"] == totals["warnings"] == totals["ignored"] == 0:
        print(f"{os.path.relpath(document, REPO_ROOT)}: redocly lint (recommended): {counts}")
        return 0
    # The readable report of the same problems, then the verdict.
    print(lint("codeframe").stdout)
    print(f"FAIL: redocly lint (recommended) of {document}: {counts} (exit {p.returncode}); "
          f"every one must be fixed, none ignored", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
