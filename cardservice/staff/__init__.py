"""Staff accounts (reviewer, counter, admin), their login and the audit log of their actions."""
