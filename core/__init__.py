"""What every part of the platform shares: settings, database, logging, identity."""
