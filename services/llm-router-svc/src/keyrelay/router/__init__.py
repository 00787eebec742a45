"""keyrelay router."""
