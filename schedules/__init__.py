"""Schedules: the broadcast calendar, its recurrence compiled to UTC instants, priorities."""
