"""Passwords, tokens and users."""
