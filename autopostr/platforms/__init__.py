"""Platform adapters behind one small interface, found through a registry."""
