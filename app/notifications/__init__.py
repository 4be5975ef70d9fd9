"""Telling people: the outbox written with every change, webhooks to the app's backend (per the
Standard Webhooks specification), reminders and daily digests."""
