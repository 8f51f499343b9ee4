"""``gridmap notify scan|deliver`` (for cron, when the server's own loops are off) and ``gridmap notify webhooks``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer

from gridmap.cli.common import console, engine, settings, user_errors

app = typer.Typer(help="通知 / notifications: scan, webhook deliveries, webhooks per unit", no_args_is_help=True)
hooks = typer.Typer(help="webhooks per unit (企业微信, 钉钉, JSON)", no_args_is_help=True)
app.add_typer(hooks, name="webhooks")


@app.command("scan")
def scan_command() -> None:
    """One pass: notify new reports and stages due soon or overdue (each once; safe to run from cron)."""
    from gridmap.db.session import session_scope
    from gridmap.notify.scan import scan

    s = settings()
    with user_errors(), session_scope(engine()) as session:
        result = scan(session, now=datetime.now(UTC), settings=s)
    console.print(f"新报告 / new reports: {result.reports}, 时限提醒 / deadline events: {result.stages}")


@app.command("deliver")
def deliver_command() -> None:
    """Send the webhook deliveries due now (failures are retried later with backoff)."""
    from gridmap.notify.runner import Notifier

    s = settings()
    with user_errors():
        notifier = Notifier(engine(), s, lambda: datetime.now(UTC))
        tried = 0
        while sent := asyncio.run(notifier.deliver_once()):
            tried += sent
    console.print(f"已尝试发送 / deliveries tried: {tried}")


@hooks.command("add")
def add(
    name: str,
    unit_kind: Annotated[str, typer.Option(help="grid, community, street or department")],
    unit: Annotated[str, typer.Option(help="a grid/社区/街道 code, or a department's name")],
    url: Annotated[str, typer.Option(help="the robot's or receiver's URL")],
    fmt: Annotated[str, typer.Option("--format", help="wecom (企业微信), dingtalk (钉钉) or json")] = "json",
    kind: Annotated[list[str] | None, typer.Option(help="new_task, returned, due_soon, overdue (repeatable)")] = None,
    secret: Annotated[str | None, typer.Option(help="钉钉 加签 secret")] = None,
) -> None:
    """Add a webhook for a unit."""
    from gridmap.db.session import session_scope
    from gridmap.notify.webhooks import add_webhook

    with user_errors(), session_scope(engine()) as session:
        hook = add_webhook(
            session, name=name, unit_kind=unit_kind, unit=unit, url=url, fmt=fmt, kinds=kind, secret=secret
        )
        console.print(f"added webhook {hook.id}: {hook.name} ({hook.format}) for {hook.unit_kind} {hook.unit}")


@hooks.command("list")
def list_command() -> None:
    """List webhooks with their outbox counts."""
    from gridmap.db.session import session_scope
    from gridmap.notify.webhooks import list_webhooks

    with user_errors(), session_scope(engine()) as session:
        for h in list_webhooks(session):
            counts = h["deliveries"]
            console.print(
                f"{h['id']}\t{h['name']}\t{h['unit_name']}\t{h['format_name']}\t{h['url']}\t"
                f"待发 {counts['pending']} 已送达 {counts['delivered']} 失败 {counts['failed']}"
                + (f"\t{h['last_error']}" if h["last_error"] else "")
            )


@hooks.command("remove")
def remove(webhook_id: int) -> None:
    """Remove a webhook and its outbox rows."""
    from gridmap.db.session import session_scope
    from gridmap.notify.webhooks import remove_webhook

    with user_errors(), session_scope(engine()) as session:
        remove_webhook(session, webhook_id)
    console.print(f"removed webhook {webhook_id}")
