"""The SQL of notifications: the outbox fan-out and the scan for stages due soon or late."""

from __future__ import annotations

from sqlalchemy import text

# An event stored once by its key, its users' 通知 and its webhook deliveries, in one round trip (an action pays
# for it in its own transaction). The webhooks are those of the units the event concerns: its grid, its 社区 and
# 街道 (code prefixes of the grid), and the department once the case is dispatched to it.
_EVENT = """
WITH ev AS (
  INSERT INTO notify_events (key, request_id, kind, stage, since, status, created_at, data)
  VALUES (:key, :request_id, :kind, :stage, :since, :status, :now, CAST(:data AS json))
  ON CONFLICT (key) DO NOTHING
  RETURNING id
),
inbox AS (
  INSERT INTO notifications (user_id, event_id, created_at)
  SELECT u, ev.id, :now FROM ev, unnest(CAST(:users AS integer[])) AS u
)"""
_OUTBOX = """,
outbox AS (
  INSERT INTO webhook_deliveries (webhook_id, event_id, status, attempts, next_attempt_at, created_at)
  SELECT w.id, ev.id, 'pending', 0, :wall, :wall FROM ev, webhooks w
  WHERE w.active AND jsonb_exists(w.kinds::jsonb, :kind)
    AND ((w.unit_kind = 'grid' AND w.unit = :grid)
         OR (w.unit_kind IN ('community', 'street') AND left(:grid, length(w.unit)) = w.unit)
         OR (w.unit_kind = 'department' AND w.unit = :department AND :dispatched))
)"""
RECORD = text(_EVENT + _OUTBOX + "\nSELECT id FROM ev")
RECORD_NO_OUTBOX = text(_EVENT + "\nSELECT id FROM ev")

# Running stages past the due-soon share of their limit counted in plain minutes: a necessary condition, since
# working time never runs faster than the wall clock; the exact moments come from the working calendar after.
# A stage already told late, or told due soon and not yet late by the wall clock either, is left out.
STAGES = text(
    """
SELECT r.id, s.stage, s.since, s.minutes, c.working_hours
FROM requests r JOIN request_categories c ON c.code = r.category
CROSS JOIN LATERAL (VALUES
    ('respond', r.created_at, c.respond_minutes, r.responded_at IS NULL),
    ('accept', r.dispatched_at, c.accept_minutes, r.status = 'dispatched' AND r.accepted_at IS NULL),
    ('resolve', r.created_at, c.resolve_minutes, r.resolved_at IS NULL)
) AS s(stage, since, minutes, running)
WHERE r.status NOT IN ('closed', 'merged', 'resolved', 'verified') AND s.running AND s.since IS NOT NULL
  AND s.since + s.minutes * (1 - :fraction) * interval '1 minute' <= :now
  AND NOT EXISTS (
    SELECT 1 FROM notify_events e
    WHERE e.request_id = r.id AND e.stage = s.stage AND e.since = s.since
      AND (e.kind = 'overdue' OR (e.kind = 'due_soon' AND s.since + s.minutes * interval '1 minute' >= :now)))
ORDER BY r.id
LIMIT :limit
"""
)

# Claim due deliveries: each is leased (its next attempt pushed past the send timeout) so that another sender
# skips it, and a sender that dies mid-send leaves it to be retried when the lease ends.
CLAIM = text(
    """
UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = :lease_until
WHERE d.id IN (SELECT id FROM webhook_deliveries
               WHERE status = 'pending' AND next_attempt_at <= :wall
               ORDER BY next_attempt_at LIMIT :limit FOR UPDATE SKIP LOCKED)
RETURNING d.id, d.webhook_id, d.event_id, d.attempts
"""
)
