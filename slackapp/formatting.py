"""Turn answers, help and health into Slack messages (mrkdwn text + Block Kit)."""

import re

from markdown_to_mrkdwn import SlackMarkdownConverter

SECTION_LIMIT = 2900  # Slack: a section's text holds at most 3,000 characters
SECTIONS_PER_MESSAGE = 4
FALLBACK_LIMIT = 300  # the notification text shown beside the blocks
MAX_HELP_MCPS = 45  # Slack: at most 50 blocks per message

WORKING = "⏳ Working on it…"
HELP_ACTION_ID = "omni_help_mcp"

_FENCE_WITH_LANGUAGE = re.compile(r"^```[\w+-]+\s*$", re.MULTILINE)


def mrkdwn_escape(text: str) -> str:
    """Escape the characters Slack treats as control sequences (``<!channel>``, ``<@U…>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_to_mrkdwn(markdown: str) -> str:
    """Markdown (as the LLM writes it) → Slack mrkdwn.

    ``&`` and ``<`` are escaped first so an answer can never ping ``@channel`` or forge
    a link; ``>`` stays for block quotes. Slack ignores a code fence's language tag.
    """
    escaped = markdown.replace("&", "&amp;").replace("<", "&lt;")
    converted = SlackMarkdownConverter().convert(escaped)  # holds state: one per call
    return _FENCE_WITH_LANGUAGE.sub("```", converted)


def _cut_point(text: str, limit: int) -> int:
    for separator in ("\n\n", "\n", " "):
        cut = text.rfind(separator, 0, limit)
        if cut > limit // 2:
            return cut
    return limit


def mrkdwn_chunks(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split at paragraph, line or word boundaries; a code block cut in two is closed and reopened."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut_point(rest, limit - 4)  # room to close a code fence
        chunk, rest = rest[:cut].rstrip(), rest[cut:].strip()
        if chunk.count("```") % 2:
            chunk, rest = chunk + "\n```", "```\n" + rest
        chunks.append(chunk)
    if rest:
        chunks.append(rest)
    return chunks


def _fallback(text: str) -> str:
    return text if len(text) <= FALLBACK_LIMIT else text[: FALLBACK_LIMIT - 1] + "…"


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def footer_text(*, role: str, tools_used: list[str], cost_usd: float | None, seconds: float) -> str:
    tools = ", ".join(dict.fromkeys(tools_used)) or "no tools"
    cost = f"${cost_usd:.4f}" if cost_usd is not None else "n/a"
    return f"👤 {mrkdwn_escape(role)} · 🔧 {mrkdwn_escape(tools)} · 💰 {cost} · ⏱ {seconds:.1f}s"


def answer_messages(*, mrkdwn: str, footer: str | None) -> list[dict]:
    """One or more ``{"text", "blocks"}`` messages; the footer goes under the last one."""
    sections = mrkdwn_chunks(mrkdwn) or ["_(no answer)_"]
    groups = [
        sections[i : i + SECTIONS_PER_MESSAGE]
        for i in range(0, len(sections), SECTIONS_PER_MESSAGE)
    ]
    messages = [
        {"text": _fallback(group[0]), "blocks": [_section(s) for s in group]} for group in groups
    ]
    if footer:
        messages[-1]["blocks"].append(_context(footer))
    return messages


def attached_answer_message(*, mrkdwn: str, footer: str | None) -> dict:
    """The message shown when the full answer goes in a file: its opening, and a pointer."""
    opening = mrkdwn_chunks(mrkdwn, limit=1500)[0]
    blocks = [
        _section(opening),
        _context("📎 The answer is long: the full text is attached as a file."),
    ]
    if footer:
        blocks.append(_context(footer))
    return {"text": _fallback(opening), "blocks": blocks}


def text_message(text: str) -> dict:
    return {"text": _fallback(text), "blocks": [_section(text)]}


def help_message(mcps: list[dict]) -> dict:
    """``/omni-help``: one section per MCP, each with a button (``omni_help_mcp`` = its name)."""
    if not mcps:
        return text_message(
            "🤖 *OMNI2 Help*\nYou have no MCP servers available. Ask an admin for access."
        )
    blocks = [
        _section("🤖 *OMNI2 Help — your available MCPs*\nPick one to see the tools you may use.")
    ]
    for mcp in mcps[:MAX_HELP_MCPS]:
        description = mrkdwn_escape(mcp.get("description") or "")[:500]
        section = _section(f"*{mrkdwn_escape(mcp['name'])}*\n{description}".strip())
        section["accessory"] = {
            "type": "button",
            "action_id": HELP_ACTION_ID,
            "value": mcp["name"][:2000],
            "text": {"type": "plain_text", "text": "Tools"},
        }
        blocks.append(section)
    if len(mcps) > MAX_HELP_MCPS:
        blocks.append(_context(f"…and {len(mcps) - MAX_HELP_MCPS} more."))
    return {"text": "OMNI2 Help — your available MCPs", "blocks": blocks}


def _tool_line(tool: dict) -> str:
    summary = (tool.get("description") or "").strip().split("\n")[0][:200]
    return f"• `{mrkdwn_escape(tool['name'])}` {mrkdwn_escape(summary)}".rstrip()


def tools_message(*, mcp: str, tools: list[dict]) -> dict:
    """The tools of one MCP that the clicking user may call."""
    if not tools:
        return text_message("You have no tools available on that MCP.")
    lines = [_tool_line(tool) for tool in tools]
    header = (
        f"🔧 *{mrkdwn_escape(mcp)}*: {len(tools)} tool{'s' if len(tools) != 1 else ''} you may use"
    )
    chunks = mrkdwn_chunks("\n".join(lines))
    return {
        "text": _fallback(header),
        "blocks": [_section(header)] + [_section(c) for c in chunks[:40]],
    }


_STATUS_ICON = {"healthy": "🟢", "ok": "🟢", "disabled": "⚪", "circuit_open": "🟠"}


def status_message(health: dict) -> dict:
    """``/omni-status``: OMNI2 itself (database, broker) and each MCP server."""
    overall = health.get("status", "degraded")
    lines = [
        f"{_STATUS_ICON.get(overall, '🔴')} *OMNI2* is {overall} "
        f"(database {health.get('database')}, broker {health.get('broker')})"
    ]
    for mcp in health.get("mcps") or []:
        status = mcp.get("status", "unknown")
        detail = f", {mcp['tools']} tools" if mcp.get("tools") is not None else ""
        if mcp.get("latency_ms") is not None:
            detail += f", {mcp['latency_ms']} ms"
        lines.append(
            f"{_STATUS_ICON.get(status, '🔴')} *{mrkdwn_escape(mcp.get('name', '?'))}*: {status}{detail}"
        )
    if not health.get("mcps"):
        lines.append("No MCP servers are configured.")
    return {
        "text": f"OMNI2 is {overall}",
        "blocks": [_section(c) for c in mrkdwn_chunks("\n".join(lines))],
    }


# --- the buttons under an answer (slackapp.buttons answers the clicks) ------------------------

RAW_ACTION_ID = "omni_answer_raw"
CSV_ACTION_ID = "omni_answer_csv"
RERUN_ACTION_ID = "omni_answer_rerun"
SHARE_ACTION_ID = "omni_answer_share"
ANSWER_ACTION_IDS = (RAW_ACTION_ID, CSV_ACTION_ID, RERUN_ACTION_ID, SHARE_ACTION_ID)


def _button(action_id: str, label: str, audit_id: int) -> dict:
    # The value is the audit row's id, never data: a click is re-checked against that row.
    return {
        "type": "button",
        "action_id": action_id,
        "value": str(audit_id),
        "text": {"type": "plain_text", "text": label},
    }


def answer_buttons(*, audit_id: int, raw: bool, csv: bool, share: bool) -> dict:
    """The actions block under an answer: the buttons that make sense for it."""
    wanted = [
        (raw, RAW_ACTION_ID, "Show raw results"),
        (csv, CSV_ACTION_ID, "Export CSV"),
        (True, RERUN_ACTION_ID, "Run again"),
        (share, SHARE_ACTION_ID, "Share in channel"),
    ]
    return {
        "type": "actions",
        "block_id": f"omni_answer_{audit_id}",
        "elements": [_button(aid, label, audit_id) for on, aid, label in wanted if on],
    }


def shared_answer_messages(*, mrkdwn: str, asker: str, question: str) -> list[dict]:
    """An ``/omni`` answer its asker shares in the channel, headed by who asked what."""
    head = _context(f"💬 <@{asker}> asked: {mrkdwn_escape(question)[:500]}")
    messages = answer_messages(mrkdwn=mrkdwn, footer=None)
    messages[0]["blocks"].insert(0, head)
    return messages
