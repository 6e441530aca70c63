"""Identity (roles, users, API keys) and the admin-edited policy tables."""

import hashlib
import re

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from permissions.policy.engine import pattern_problem, profile_pattern_problem

from .crypto import secret_decrypt, secret_encrypt

DEFAULT_ROLE = "read_only"


def validate_tool_patterns(value) -> None:
    _validate_patterns(value, database=False)


def validate_database_patterns(value) -> None:
    _validate_patterns(value, database=True)


def _validate_patterns(value, *, database: bool) -> None:
    if not isinstance(value, list):
        raise ValidationError("Enter a list of patterns.")
    problems = [problem for p in value if (problem := pattern_problem(p, database=database))]
    if problems:
        raise ValidationError("; ".join(problems))


def validate_profile_patterns(value) -> None:
    if not isinstance(value, list):
        raise ValidationError("Enter a list of patterns.")
    problems = [problem for p in value if (problem := profile_pattern_problem(p))]
    if problems:
        raise ValidationError("; ".join(problems))


def validate_string_list(value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("Enter a list of strings.")


def validate_mcp_url(value: str) -> None:
    # Not URLValidator: service names without a dot (http://db-mcp:8300/mcp) are normal here.
    if value and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValidationError("Enter an http:// or https:// URL.")


def default_model_problem(model: str) -> str | None:
    """Why a role may not default to ``model``, or None. Every model a request runs on must be
    on the allow-list, a role's default included (admin's role form and import_policy ask)."""
    if model and model not in settings.OMNI2_ALLOWED_MODELS:
        allowed = ", ".join(settings.OMNI2_ALLOWED_MODELS) or "none"
        return f"model '{model}' is not in OMNI2_ALLOWED_MODELS ({allowed})"
    return None


class Role(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=255, blank=True)
    requests_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty means unlimited."
    )
    is_admin = models.BooleanField(default=False)
    is_super_admin = models.BooleanField(default=False)
    default_model = models.CharField(
        max_length=100,
        blank=True,
        help_text="Model for this role's requests; empty uses the global default.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_privileged(self) -> bool:
        return self.is_admin or self.is_super_admin


def default_allowed_databases() -> list[str]:
    return ["*"]


def email_normalize(email: str) -> str:
    """The one spelling of an e-mail OMNI2 stores and looks up: stripped, lower case. Two
    spellings of one address must never be two users (two policies behind one person)."""
    return (email or "").strip().lower()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, *, role=None, **fields):
        email = email_normalize(email)
        if not email:
            raise ValueError("A user needs an e-mail address.")
        if role is None or isinstance(role, str):
            role = Role.objects.get(name=role or DEFAULT_ROLE)
        user = self.model(email=email, role=role, **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, role="super_admin", **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="users")
    slack_user_id = models.CharField(max_length=32, unique=True, null=True, blank=True)
    allowed_databases = models.JSONField(
        default=default_allowed_databases,
        blank=True,
        validators=[validate_database_patterns],
        help_text="Database name patterns this user may touch (shell wildcards). Empty: none. "
        "Admin roles may touch every database.",
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May log in to Django admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            # E-mails are stored lower-cased (email_normalize); this holds even for a write that
            # forgot to, so a case-insensitive lookup can never find two users.
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                violation_error_message="A user with this e-mail already exists.",
            ),
        ]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = email_normalize(
            self.email
        )  # every ModelForm (admin add and change) passes here

    def validate_unique(self, exclude=None):
        # The case-insensitive constraint (validate_constraints) covers e-mail; one error, not two.
        super().validate_unique(exclude={*(exclude or ()), "email"})


def hash_api_key(raw: str) -> str:
    # Keys carry 190 bits of randomness, so a fast hash is enough; nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # PROTECT: deleting a profile must never silently widen the keys bound to it.
    profile = models.ForeignKey(
        "McpProfile",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
        help_text="Bound to a profile, the key sees only that profile's tools, at /mcp and "
        "/mcp/<that profile>; any other profile's URL refuses it. Empty: everything the user may do.",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- Policy tables (SPEC §4.1). The engine in ``permissions.policy.engine`` reads them via
# ``permissions.policy.rows``; every save or delete invalidates the cached snapshot. ----------


class McpServer(models.Model):
    class Transport(models.TextChoices):
        HTTP = "http", "Streamable HTTP"
        SSE = "sse", "SSE"
        STDIO = "stdio", "stdio"

    class ToolMode(models.TextChoices):
        ALLOW_ALL = "allow_all", "Allow all tools"
        ALLOW_ONLY = "allow_only", "Allow only the patterns"
        ALLOW_ALL_EXCEPT = "allow_all_except", "Allow all except the patterns"

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[a-z0-9_]+\Z", "Use lower-case letters, digits and _ only.")],
    )
    description = models.CharField(max_length=255, blank=True)
    transport = models.CharField(max_length=8, choices=Transport, default=Transport.HTTP)
    url = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_mcp_url],
        help_text="For HTTP and SSE servers.",
    )
    command = models.CharField(max_length=500, blank=True, help_text="For stdio servers.")
    args = models.JSONField(default=list, blank=True, validators=[validate_string_list])
    # Secrets: values encrypted at rest (permissions.crypto), never shown again after saving.
    encrypted_env = models.JSONField(default=dict, blank=True, editable=False)
    encrypted_bearer_token = models.TextField(blank=True, editable=False)
    timeout_seconds = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(3600)]
    )
    enabled = models.BooleanField(default=True)
    admin_only = models.BooleanField(
        default=False,
        help_text="Every tool of this server is admin-only (policy step 3), whatever roles exist "
        "later; a user's custom override that names a tool still grants it.",
    )
    tool_policy_mode = models.CharField(max_length=20, choices=ToolMode, default=ToolMode.ALLOW_ALL)
    tool_patterns = models.JSONField(default=list, blank=True, validators=[validate_tool_patterns])
    database_argument = models.CharField(
        max_length=64,
        blank=True,
        help_text="The argument that names a database; empty means database, database_name, db or db_name.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "MCP server"

    def __str__(self):
        return self.name

    def clean(self):
        if self.transport == self.Transport.STDIO and not self.command:
            raise ValidationError({"command": "A stdio server needs a command."})
        if self.transport != self.Transport.STDIO and not self.url:
            raise ValidationError({"url": "An HTTP or SSE server needs a URL."})

    @property
    def has_bearer_token(self) -> bool:
        return bool(self.encrypted_bearer_token)

    @property
    def env_keys(self) -> list[str]:
        return sorted(self.encrypted_env)

    def set_bearer_token(self, token: str) -> None:
        self.encrypted_bearer_token = secret_encrypt(token) if token else ""

    def set_env(self, env: dict[str, str]) -> None:
        self.encrypted_env = {key: secret_encrypt(str(value)) for key, value in env.items()}

    def connection_secrets(self) -> tuple[str, dict[str, str]]:
        """The decrypted bearer token ("" when none) and env, for the connectivity layer only."""
        token = secret_decrypt(self.encrypted_bearer_token) if self.encrypted_bearer_token else ""
        return token, {key: secret_decrypt(value) for key, value in self.encrypted_env.items()}


class GlobalPolicy(models.Model):
    """The single row of global rules (primary key 1)."""

    class Decision(models.TextChoices):
        ALLOW = "allow", "Allow"
        DENY = "deny", "Deny"

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    blocked_patterns = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_tool_patterns],
        help_text="Tools nobody but super admins may call.",
    )
    admin_only_patterns = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_tool_patterns],
        help_text="Tools for admin roles, unless a user's custom override grants them at least as specifically.",
    )
    default_decision = models.CharField(max_length=5, choices=Decision, default=Decision.ALLOW)
    default_role = models.ForeignKey(
        Role,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=f"Role of unknown users (no matching e-mail or Slack id); empty means {DEFAULT_ROLE}.",
    )
    default_allowed_databases = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_database_patterns],
        help_text="Databases unknown users may touch; empty means none.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "global policy"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="global_policy_singleton")
        ]

    def __str__(self):
        return "Global policy"

    @classmethod
    def load(cls) -> "GlobalPolicy":
        return cls.objects.get_or_create(pk=1)[0]


class RoleRestriction(models.Model):
    class Mode(models.TextChoices):
        ALLOW_ALL = "allow_all", "Allow all"
        ALLOW_ONLY = "allow_only", "Allow only the patterns"
        DENY = "deny", "Deny the patterns"

    mcp = models.ForeignKey(McpServer, on_delete=models.CASCADE, related_name="role_restrictions")
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="restrictions")
    mode = models.CharField(max_length=10, choices=Mode, default=Mode.ALLOW_ONLY)
    patterns = models.JSONField(default=list, blank=True, validators=[validate_tool_patterns])

    class Meta:
        ordering = ["mcp__name", "role__name"]
        constraints = [
            models.UniqueConstraint(fields=["mcp", "role"], name="one_restriction_per_mcp_role")
        ]

    def __str__(self):
        return f"{self.role} on {self.mcp}: {self.mode}"


class UserOverride(models.Model):
    class Mode(models.TextChoices):
        INHERIT = "inherit", "Inherit (role rules)"
        CUSTOM = "custom", "Custom (tools minus deny)"
        ALL = "all", "All tools"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="overrides")
    mcp = models.ForeignKey(McpServer, on_delete=models.CASCADE, related_name="user_overrides")
    mode = models.CharField(max_length=10, choices=Mode, default=Mode.INHERIT)
    tools = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_tool_patterns],
        help_text="Custom mode: granted patterns. An empty list blocks the MCP for this user.",
    )
    deny = models.JSONField(default=list, blank=True, validators=[validate_tool_patterns])

    class Meta:
        ordering = ["user__email", "mcp__name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "mcp"], name="one_override_per_user_mcp")
        ]

    def __str__(self):
        return f"{self.user} on {self.mcp}: {self.mode}"


class DiscoveredTool(models.Model):
    mcp = models.ForeignKey(McpServer, on_delete=models.CASCADE, related_name="tools")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    input_schema = models.JSONField(default=dict, blank=True)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["mcp__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["mcp", "name"], name="one_tool_name_per_mcp")
        ]

    def __str__(self):
        return f"{self.mcp}.{self.name}"


class McpProfile(models.Model):
    """A virtual server (SPEC §13): ``/mcp/<name>`` shows the user's permitted tools that match
    these ``mcp.tool`` patterns, never more than the policy allows."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=255, blank=True)
    tools = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_profile_patterns],
        help_text="mcp.tool patterns, e.g. database_mcp.get_* or *.list_*; empty: no tools.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "MCP profile"

    def __str__(self):
        return self.name


class PolicyVersion(models.Model):
    """The live policy version token (one row), replaced after each committed policy change. The
    cache holds a short-lived copy that every request reads; when the copy is missing, this row
    is the truth (``permissions.policy.snapshot.policy_version``)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    token = models.CharField(max_length=32)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="policy_version_singleton")
        ]

    def __str__(self):
        return self.token
