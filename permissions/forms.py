"""Admin forms: pattern lists one per line, and write-only MCP secrets."""

from django import forms
from django.core.exceptions import ValidationError

from permissions.policy.engine import pattern_problem, profile_pattern_problem

from .models import (
    GlobalPolicy,
    McpProfile,
    McpServer,
    Role,
    RoleRestriction,
    User,
    UserOverride,
    default_model_problem,
)


class LineListField(forms.CharField):
    """A list of strings edited one per line in a textarea."""

    def __init__(self, *, rows: int = 4, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(
            widget=forms.Textarea(attrs={"rows": rows, "cols": 40}), strip=False, **kwargs
        )

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value) -> list[str]:
        text = (value or "").replace("\r\n", "\n").rstrip("\n")
        return text.split("\n") if text else []

    def validate(self, value):
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")


class PatternListField(LineListField):
    """Tool (or database) patterns, one per line; every line must be a valid pattern."""

    def __init__(self, *, database: bool = False, **kwargs):
        self.database = database
        kwargs.setdefault(
            "help_text", "One shell-style pattern per line, e.g. get_* or analyze_*_query."
        )
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        problems = [
            f"line {number}: {problem}"
            for number, line in enumerate(value, 1)
            if (problem := self.problem(line))
        ]
        if problems:
            raise ValidationError(problems)

    def problem(self, line: str) -> str | None:
        return pattern_problem(line, database=self.database)


class ProfilePatternListField(PatternListField):
    """``mcp.tool`` patterns, one per line (profiles)."""

    def problem(self, line: str) -> str | None:
        return profile_pattern_problem(line)


class McpServerForm(forms.ModelForm):
    args = LineListField(rows=3, help_text="stdio: one argument per line.")
    tool_patterns = PatternListField(
        help_text="Include (allow_only) or exclude (allow_all_except) patterns, one per line."
    )
    bearer_token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only. Leave empty to keep the stored token.",
    )
    clear_bearer_token = forms.BooleanField(required=False, label="Remove the stored token")
    env_update = forms.CharField(
        required=False,
        label="Set environment variables",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text="stdio: KEY=value per line sets (or replaces) a variable; KEY= removes it. "
        "Values are write-only; other variables are kept.",
    )
    clear_env = forms.BooleanField(required=False, label="Remove all environment variables")

    class Meta:
        model = McpServer
        fields = (
            "name",
            "description",
            "enabled",
            "admin_only",
            "transport",
            "url",
            "command",
            "args",
            "timeout_seconds",
            "tool_policy_mode",
            "tool_patterns",
            "database_argument",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        server = self.instance
        state = "set" if server.has_bearer_token else "not set"
        self.fields["bearer_token"].help_text = (
            f"Currently {state}. " + self.fields["bearer_token"].help_text
        )
        keys = ", ".join(server.env_keys) or "none"
        self.fields["env_update"].help_text = (
            f"Stored variables: {keys}. " + self.fields["env_update"].help_text
        )

    def clean_env_update(self) -> dict[str, str]:
        changes = {}
        for number, line in enumerate(self.cleaned_data["env_update"].splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip().isidentifier():
                raise ValidationError(f"line {number}: write KEY=value")
            changes[key.strip()] = value
        return changes

    def save(self, commit=True):
        server = super().save(commit=False)
        data = self.cleaned_data
        if data["clear_bearer_token"]:
            server.set_bearer_token("")
        elif data["bearer_token"]:
            server.set_bearer_token(data["bearer_token"])
        if data["clear_env"] or data["env_update"]:
            _token, env = server.connection_secrets()
            env = {} if data["clear_env"] else env
            env.update(data["env_update"])
            server.set_env({key: value for key, value in env.items() if value != ""})
        if commit:
            server.save()
        return server


class RoleForm(forms.ModelForm):
    class Meta:
        model = Role
        fields = [
            "name",
            "description",
            "requests_per_hour",
            "is_admin",
            "is_super_admin",
            "default_model",
        ]

    def clean_default_model(self) -> str:
        model = self.cleaned_data["default_model"].strip()
        if problem := default_model_problem(model):
            raise ValidationError(
                f"The {problem}; a role's default must be one of the allowed models."
            )
        return model


class RoleRestrictionForm(forms.ModelForm):
    patterns = PatternListField(rows=2, help_text="")

    class Meta:
        model = RoleRestriction
        fields = ("mcp", "role", "mode", "patterns")


class UserOverrideForm(forms.ModelForm):
    tools = PatternListField(
        rows=2, help_text="Custom mode: granted patterns (empty blocks the MCP)."
    )
    deny = PatternListField(rows=2, help_text="Custom mode: denied patterns.")

    class Meta:
        model = UserOverride
        fields = ("user", "mcp", "mode", "tools", "deny")


class McpProfileForm(forms.ModelForm):
    tools = ProfilePatternListField(
        rows=5,
        help_text="One mcp.tool pattern per line, e.g. database_mcp.get_* or *.list_*. A profile "
        "only narrows: /mcp/<name> shows the user's permitted tools that match a line.",
    )

    class Meta:
        model = McpProfile
        fields = ("name", "description", "tools")


class GlobalPolicyForm(forms.ModelForm):
    blocked_patterns = PatternListField(help_text="Nobody but super admins may call these.")
    admin_only_patterns = PatternListField(
        help_text="Admin roles only, unless a user's custom override grants the tool at least as specifically."
    )
    default_allowed_databases = PatternListField(
        database=True, help_text="Databases unknown users may touch."
    )

    class Meta:
        model = GlobalPolicy
        fields = (
            "blocked_patterns",
            "admin_only_patterns",
            "default_decision",
            "default_role",
            "default_allowed_databases",
        )


class AllowedDatabasesMixin(forms.Form):
    allowed_databases = PatternListField(
        database=True,
        help_text="Database name patterns, one per line; * is every database. "
        "Empty: none. Admin roles always have every database.",
    )


class ExplainForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("email"),
        required=False,
        empty_label="(unknown user: the default user)",
    )
    mcp = forms.ModelChoiceField(queryset=McpServer.objects.all(), label="MCP server")
    tool = forms.CharField(required=False, help_text="Optional: a tool name not discovered yet.")

    def clean_tool(self) -> str:
        tool = self.cleaned_data["tool"].strip()
        if tool and (
            not tool.replace("-", "_").replace(".", "_").isidentifier() or len(tool) > 255
        ):
            raise ValidationError("Enter a tool name (letters, digits, _ - .).")
        return tool
