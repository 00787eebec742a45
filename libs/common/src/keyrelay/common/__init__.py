"""keyrelay common."""
