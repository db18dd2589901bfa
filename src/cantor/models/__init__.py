"""Complete models built from cantor.nn parts, and their weights on disk."""
