"""Weight import: readers of foreign checkpoint formats and their mapping onto the model zoo."""
