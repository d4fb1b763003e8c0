"""Per-family tests of the reverse rules against central finite differences."""
