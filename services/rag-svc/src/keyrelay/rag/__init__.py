"""keyrelay rag."""
