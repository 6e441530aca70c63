"""The engine against a small, separately written reference of SPEC §4.2 (hypothesis).

The reference reads the SPEC text literally and favours plainness over speed: fnmatch on
every call, no precompiled sets, no memo. Both must agree on allow/deny, step and code.
"""

import math
import re
from fnmatch import fnmatchcase
from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from permissions.policy.engine import decide, permitted_tools, snapshot_build

ROLES = {
    "admin": (True, False),
    "super_admin": (False, True),
    "dev": (False, False),
    "ops": (False, False),
}
WORDS = ["get", "drop", "plans", "history", "a"]
DATABASE_ARGS = ["database", "database_name", "db", "db_name"]


# --- the reference ---------------------------------------------------------------------------------


def ref_specificity(pattern):
    classes = re.compile(r"\[!?\]?[^\]]*\]")
    if not re.search(r"[*?]", pattern) and not classes.search(pattern):
        return math.inf  # an exact name is most specific
    return len(re.sub(r"[*?]", "", classes.sub("", pattern)))


def ref_matches(tool, patterns):
    return [p for p in patterns if fnmatchcase(tool, p)]


def ref_decide(policy, email, mcp, tool, arguments):
    """Returns (allowed, step, code), reading SPEC §4.2 top to bottom."""
    user = next((u for u in policy["users"] if u["email"] == email), None) or policy["default_user"]
    is_admin, is_super = ROLES[user["role"]]
    server = next((m for m in policy["mcps"] if m["name"] == mcp), None)
    if server is None or not server["enabled"]:
        return False, 1, "not_available"
    listed = ref_matches(tool, server["tool_patterns"])
    if (server["tool_mode"] == "allow_only" and not listed) or (
        server["tool_mode"] == "allow_all_except" and listed
    ):
        return False, 1, "not_available"
    if ref_matches(tool, policy["global"]["blocked"]) and not is_super:
        return False, 2, "blocked"
    override = user["overrides"].get(mcp)
    admin_only = ref_matches(tool, policy["global"]["admin_only"])
    if admin_only and not (is_admin or is_super):
        grants = (
            ref_matches(tool, override["tools"])
            if override and override["mode"] == "custom"
            else []
        )
        needed = max(ref_specificity(p) for p in admin_only)
        if not any(ref_specificity(g) >= needed for g in grants):
            return False, 3, "admin_only"
    result = ref_rules(policy, user, server, override, tool)
    if result[0] and arguments:
        return ref_databases(user, server, arguments, is_admin or is_super) or result
    return result


def ref_rules(policy, user, server, override, tool):
    if override and override["mode"] == "all":
        return True, 4, "override"
    if override and override["mode"] == "custom":
        granted = ref_matches(tool, override["tools"]) and not ref_matches(tool, override["deny"])
        return bool(granted), 4, "override"
    rule = server["role_restrictions"].get(user["role"])
    if rule is not None:
        if rule["mode"] == "allow_all":
            return True, 5, "role"
        hit = bool(ref_matches(tool, rule["patterns"]))
        return (hit if rule["mode"] == "allow_only" else not hit), 5, "role"
    return policy["global"]["default_decision"] == "allow", 6, "default"


def ref_databases(user, server, arguments, privileged):
    names = [server["database_argument"]] if server["database_argument"] else DATABASE_ARGS
    allowed = ["*"] if privileged else user["allowed_databases"]
    for name in names:
        if arguments.get(name) and not ref_matches(arguments[name], allowed):
            return False, 7, "database"
    return None


# --- random policies ----------------------------------------------------------------------------------

# Small pools, each name or pattern one draw, so that the same pattern often lands in
# several lists and equal specificities (get_* / get_?, *_plans / [gd]*_plans) meet.
TOOL_POOL = sorted(
    {"_".join(p) for p in product(WORDS, repeat=2)} | set(WORDS) | {"get_plans_history"}
)
PATTERN_POOL = [
    "*",
    "get_*",
    "get_?",
    "?et_*",
    "*_plans",
    "[gd]*_plans",
    "*_history",
    "get_*_history",
    "drop_*",
    "get_plans",
    "*_*",
    "plans",
    "[!g]*",
    "a_?",
]
tool_names = st.sampled_from(TOOL_POOL)
patterns = st.lists(st.sampled_from(PATTERN_POOL), max_size=3)
role_names = st.sampled_from(sorted(ROLES))


# Strategies are built once here: building them inside a draw costs more than the test.
restrictions = st.dictionaries(
    role_names,
    st.fixed_dictionaries(
        {"mode": st.sampled_from(["allow_all", "allow_only", "deny"]), "patterns": patterns}
    ),
    max_size=3,
)
overrides = st.dictionaries(
    st.sampled_from(["m1", "m2"]),
    st.fixed_dictionaries(
        {"mode": st.sampled_from(["inherit", "custom", "all"]), "tools": patterns, "deny": patterns}
    ),
    max_size=2,
)


def mcp_policy(name):
    return st.fixed_dictionaries(
        {
            "name": st.just(name),
            "enabled": st.sampled_from([True, True, False]),
            "tool_mode": st.sampled_from(["allow_all", "allow_only", "allow_all_except"]),
            "tool_patterns": patterns,
            "tools": st.lists(tool_names, max_size=6),
            "database_argument": st.sampled_from(["", "", "target"]),
            "role_restrictions": restrictions,
        }
    )


def user_policy(email):
    def with_flags(user):
        user["is_admin"], user["is_super_admin"] = ROLES[user["role"]]
        return user

    return st.fixed_dictionaries(
        {
            "email": st.just(email),
            "role": role_names,
            "overrides": overrides,
            "allowed_databases": st.lists(st.sampled_from(["a*", "b", "*"]), max_size=2),
        }
    ).map(with_flags)


policies = st.fixed_dictionaries(
    {
        "global": st.fixed_dictionaries(
            {
                "blocked": patterns,
                "admin_only": patterns,
                "default_decision": st.sampled_from(["allow", "deny"]),
            }
        ),
        "default_user": st.just(
            {"email": "", "role": "dev", "allowed_databases": [], "overrides": {}}
        ),
        "mcps": st.tuples(mcp_policy("m1"), mcp_policy("m2")).map(list),
        "users": st.tuples(user_policy("u1@x.com"), user_policy("u2@x.com")).map(list),
    }
)


arguments = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(DATABASE_ARGS + ["target", "query"]),
        st.sampled_from(["a1", "b", "c"]),
        max_size=2,
    ),
)


@settings(max_examples=2000, deadline=None)
@given(
    policy=policies,
    email=st.sampled_from(["u1@x.com", "u2@x.com", "stranger@x.com"]),
    mcp=st.sampled_from(["m1", "m2", "m3"]),
    tool=tool_names,
    args=arguments,
)
def test_decide_agrees_with_the_reference(policy, email, mcp, tool, args):
    snapshot = snapshot_build(policy, version="p")
    decision = decide(snapshot, snapshot.user(email=email), mcp, tool, args)
    assert (decision.allowed, decision.step, decision.code) == ref_decide(
        policy, email, mcp, tool, args
    )


@settings(max_examples=300, deadline=None)
@given(policy=policies, email=st.sampled_from(["u1@x.com", "u2@x.com", "stranger@x.com"]))
def test_permitted_tools_is_every_visible_tool_the_reference_allows(policy, email):
    snapshot = snapshot_build(policy, version="p")
    expected = sorted(
        (m["name"], tool)
        for m in policy["mcps"]
        for tool in set(m["tools"])
        if ref_decide(policy, email, m["name"], tool, None)[0]
    )
    assert permitted_tools(snapshot, snapshot.user(email=email)) == expected
