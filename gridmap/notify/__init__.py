"""Notifications: who must hear of a request's new task, return or deadline; inboxes, event streams, webhooks."""
