"""pytest plugin of the contract suite (options and fixtures only)."""
