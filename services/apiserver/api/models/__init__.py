"""kubeling's resource definitions (field schemas), one module per API group."""
