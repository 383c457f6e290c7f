"""Sentence embeddings for the semantic cache: a local model that runs offline, behind one
small interface so a real Azure OpenAI embeddings deployment can stand in for it."""
