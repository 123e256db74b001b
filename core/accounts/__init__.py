"""Sending accounts: provider presets, secrets, sessions, connection tests.

``connect.open_session`` is what the engine uses to get an authenticated
SMTP session; everything else serves the operator who sets accounts up.
"""
