"""Sources: everything that brings feedback in. Each yields ``CollectedItem`` or ``Rejected`` records."""
