"""keyrelay portal."""
