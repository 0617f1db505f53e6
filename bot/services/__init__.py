"""Domain services: keyword-only functions over a database session; no telegram here."""
