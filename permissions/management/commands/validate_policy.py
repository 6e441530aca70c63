from django.core.management.base import BaseCommand, CommandError

from permissions.policy.engine import (
    Decision,
    PolicySnapshot,
    UserPolicy,
    explain,
    permitted_tools,
    profile_allows,
    profile_narrow,
)
from permissions.policy.snapshot import policy_snapshot
from permissions.selectors import user_policy_for, user_resolve


class Command(BaseCommand):
    help = (
        "Print, for one user, each tool with ALLOW|DENY and the step and pattern that decided: "
        "'<tool> ALLOW|DENY step=<n> pattern=<p> <reason>'. The profiles and how many of the "
        "user's tools each keeps are listed on stderr; --profile narrows the lines to one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--user", required=True, help="E-mail; an unknown one is the default user."
        )
        parser.add_argument(
            "--mcp", help="One MCP server (default: all of them, tools shown as mcp.tool)."
        )
        parser.add_argument("--tool", help="One tool, discovered or not.")
        parser.add_argument(
            "--profile",
            help="As seen through this profile (/mcp/<profile>): step=0 lines are "
            "tools the policy allows but the profile leaves out.",
        )

    def handle(self, *args, user, mcp, tool, profile=None, **options):
        snapshot = policy_snapshot()
        account = user_resolve(email=user)
        subject = user_policy_for(account)
        if account is None:
            self.stderr.write(
                f"No active user {user}; deciding as the default user (role {subject.role})."
            )
        if mcp and mcp not in snapshot.mcps and not tool:
            raise CommandError(f"No MCP server named {mcp!r}.")
        if profile and profile not in snapshot.profiles:
            raise CommandError(f"No profile named {profile!r}.")
        for name in [mcp] if mcp else sorted(snapshot.mcps):
            rows = explain(snapshot, subject, name, [tool] if tool else [])
            rows = [(t, d) for t, d in rows if not tool or t == tool]
            if not rows:
                self.stderr.write(f"{name}: no tools discovered yet; name one with --tool.")
            for tool_name, decision in rows:
                if decision.allowed and not profile_allows(snapshot, profile, name, tool_name):
                    decision = _outside(profile)
                self.stdout.write(self._line(tool_name if mcp else f"{name}.{tool_name}", decision))
        self._profiles_note(snapshot, subject)

    def _profiles_note(self, snapshot: PolicySnapshot, subject: UserPolicy) -> None:
        permitted = permitted_tools(snapshot, subject)
        for name, found in sorted(snapshot.profiles.items()):
            kept = len(profile_narrow(snapshot, name, permitted))
            patterns = ", ".join(found.patterns) or "no patterns"
            self.stderr.write(
                f"profile {name}: {kept} of this user's {len(permitted)} tools ({patterns})"
            )

    @staticmethod
    def _line(tool: str, decision: Decision) -> str:
        return f"{tool} {decision.word} step={decision.step} pattern={decision.pattern or '-'} {decision.reason}"


def _outside(profile: str) -> Decision:
    reason = f"The policy allows it, but profile '{profile}' leaves it out."
    return Decision(False, 0, None, reason, "profile")
