"""A log filter that masks anything shaped like a secret before it is written."""

import logging
import re

_PATTERNS = [
    re.compile(r"(xox[abposr]-[A-Za-z0-9-]+)"),  # Slack tokens
    re.compile(r"(sk-(?:ant-)?[A-Za-z0-9_-]{8,})"),  # Anthropic / OpenAI keys
    re.compile(r"(omni2_[A-Za-z0-9]{8}_[A-Za-z0-9]{16,})"),  # OMNI2 API keys
    re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=-]{8,})"),
]


def redact_text(text: str) -> str:
    for pattern in _PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
        else:
            text = pattern.sub("[REDACTED]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
