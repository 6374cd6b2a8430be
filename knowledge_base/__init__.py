"""FAQ knowledge base: store, search and editor (see issue 3)."""
