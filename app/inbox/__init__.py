"""What each user is told: the notifications (the outbox's rows), their preferences, the inbox."""
