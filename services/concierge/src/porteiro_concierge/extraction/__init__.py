"""Slot extraction from what the visitor says: one interface, two implementations."""
