"""Static public progress site."""
