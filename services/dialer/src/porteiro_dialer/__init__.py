"""Porteiro dialer service."""
