"""A second OMNI2 process for the cache tests: reads lines ``email mcp tool`` on stdin and
answers each with the decision from its own (memoised) policy snapshot.

Run as ``python -m permissions.tests.policy_probe`` with the test's environment.
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omni2.settings")

import django

django.setup()

from permissions.policy.engine import decide  # noqa: E402
from permissions.policy.snapshot import policy_snapshot  # noqa: E402


def main() -> None:
    print("ready", flush=True)
    for line in sys.stdin:
        email, mcp, tool = line.split()
        snapshot = policy_snapshot()
        decision = decide(snapshot, snapshot.user(email=email), mcp, tool)
        print(f"{decision.word} {decision.step} {snapshot.version}", flush=True)


if __name__ == "__main__":
    main()
