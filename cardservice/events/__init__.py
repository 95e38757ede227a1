"""Events for the library system: signed webhooks from card events, and the CSV export."""
