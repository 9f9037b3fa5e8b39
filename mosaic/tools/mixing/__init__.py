"""Turning a DataAction into training rows: its schema for one run, validation, repair, what
the pools can give (capacity), the pools themselves and the token-budgeted mixture builder."""
