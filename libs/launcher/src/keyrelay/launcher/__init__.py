"""keyrelay launcher."""
