"""Identity: roles, users (e-mail is the identity) and their API keys."""

import hashlib

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone

DEFAULT_ROLE = "read_only"


class Role(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=255, blank=True)
    requests_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty means unlimited."
    )
    is_admin = models.BooleanField(default=False)
    is_super_admin = models.BooleanField(default=False)
    default_model = models.CharField(
        max_length=100, blank=True, help_text="Model for this role's requests; empty uses the global default."
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


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, *, role=None, **fields):
        if not email:
            raise ValueError("A user needs an e-mail address.")
        if role is None or isinstance(role, str):
            role = Role.objects.get(name=role or DEFAULT_ROLE)
        user = self.model(email=self.normalize_email(email).lower(), role=role, **fields)
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
        help_text="Database name patterns this user may touch (shell wildcards). Empty: none.",
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

    def __str__(self):
        return self.email


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

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
