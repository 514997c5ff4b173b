"""Everything Textual lives here."""
