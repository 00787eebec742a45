"""keyrelay keyvault."""
