"""The process's instruments, in the Prometheus text format (``prometheus-client``): what the workers count as they
go. Each ``Metrics`` has a registry of its own (never the library's global one), so that tests and several apps in
one process do not collide. What is better read from the database (the outbox's depth and age, broadcast progress)
and the channels' states are set at scrape time by bot/monitoring.py.

Label values are channel and platform names and short fixed words: never a user, a chat or a message.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REPLY, NOTIFICATION = "reply", "notification"  # the kinds of message in the outbox
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SEARCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    """Counters, histograms and gauges of one app (one ``Services``)."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.updates_received = Counter(
            "ocop_updates_received", "Updates stored in the inbox", ["channel"], registry=registry)
        self.updates_handled = Counter(
            "ocop_updates_handled", "Updates the inbox worker is done with, by outcome (handled: answered; "
            "ignored: nothing to answer; given_up: failed too often)", ["channel", "outcome"], registry=registry)
        self.update_failures = Counter(
            "ocop_update_failures", "Handling attempts that failed and will be tried again", ["channel"],
            registry=registry)
        self.handling_seconds = Histogram(
            "ocop_update_handling_seconds", "Time from taking a stored update to its replies committed to the outbox",
            ["channel"], buckets=LATENCY_BUCKETS, registry=registry)
        self.messages_queued = Counter(
            "ocop_messages_queued", "Messages written to the outbox (replies, and notifications to other users)",
            ["channel", "kind"], registry=registry)
        self.messages_sent = Counter(
            "ocop_messages_sent", "Outbox messages the platform accepted", ["channel", "kind"], registry=registry)
        self.messages_failed = Counter(
            "ocop_messages_failed", "Outbox messages given up, by reason (refused, blocked, unreachable)",
            ["channel", "kind", "reason"], registry=registry)
        self.outbox_depth = Gauge(
            "ocop_outbox_depth", "Messages waiting in the outbox (read from the database at scrape time)",
            ["channel", "kind"], registry=registry)
        self.outbox_oldest_seconds = Gauge(
            "ocop_outbox_oldest_age_seconds", "Age of the oldest message waiting in the outbox (0 when none)",
            ["channel"], registry=registry)
        self.database_up = Gauge(
            "ocop_database_up", "1 when the database answered the last scrape's queries in time, else 0",
            registry=registry)
        self.inbox_depth = Gauge(
            "ocop_inbox_depth", "Updates stored and not handled yet (read from the database at scrape time)",
            registry=registry)
        self.broadcasts_sending = Gauge(
            "ocop_broadcasts_sending", "Broadcasts being sent (read from the database at scrape time)",
            registry=registry)
        self.broadcast_recipients = Gauge(
            "ocop_broadcast_recipients", "Recipients of the broadcasts being sent, by delivery status",
            ["status"], registry=registry)
        self.broadcast_deliveries = Counter(
            "ocop_broadcast_deliveries", "Broadcast sends by this process, by outcome (sent, failed, blocked, "
            "retry)", ["channel", "outcome"], registry=registry)
        self.search_seconds = Histogram(
            "ocop_search_seconds", "Time to answer a catalogue search", buckets=SEARCH_BUCKETS, registry=registry)
        self.throttled = Counter(
            "ocop_platform_throttled", "Answers 429 (too many requests) from a platform", ["platform"],
            registry=registry)
        self.retries = Counter(
            "ocop_platform_retries", "Calls to a platform that failed and are tried again (429s included)",
            ["platform"], registry=registry)
        self.channel_up = Gauge(
            "ocop_channel_up", "1 while the channel is connected and running, else 0", ["channel"],
            registry=registry)
        self.channel_state = Gauge(
            "ocop_channel_state", "1 for the channel's current state (starting, running, stopped) and why",
            ["channel", "state", "reason"], registry=registry)
        self.token_refreshes = Counter(
            "ocop_token_refreshes", "Access token refreshes, by outcome (refreshed, refused, failed)",
            ["platform", "outcome"], registry=registry)

    def retried(self, platform: str, throttled: bool) -> None:
        """A call to ``platform`` failed and will be tried again (``throttled``: it was a 429)."""
        self.retries.labels(platform).inc()
        if throttled:
            self.throttled.labels(platform).inc()

    def render(self) -> bytes:
        """Everything, in the Prometheus text format."""
        return generate_latest(self.registry)
