"""Placeholder: replaced below."""
def register(commands):
    pass
