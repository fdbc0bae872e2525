"""The interactive view. Importing this package imports no Textual: see app.py."""
