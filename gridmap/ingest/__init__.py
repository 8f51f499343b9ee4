"""Importing files into the database."""
